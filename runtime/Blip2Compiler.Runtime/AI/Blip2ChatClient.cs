using System.Runtime.CompilerServices;
using Blip2Compiler.Generation;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// <see cref="IChatClient"/> over a BLIP-2 conditional-generation model: the conversation's latest image plus its
/// questions and answers give a caption (no text in the last user message) or an answer
/// (<see cref="ConversationPrompt"/>: "Question: q1 Answer: a1. Question: q2 Answer:", the oldest turns dropped to fit
/// the model's positions; with another <see cref="PromptTemplate"/>, the last user text put into it). Every response
/// says what its prompt was and what was left out in <see cref="ChatResponse.AdditionalProperties"/> (the streamed
/// ones on their last update): <see cref="ConversationFit.ToAdditionalProperties"/>.
/// <see cref="ChatOptions"/> map to generation options (<see cref="ToGenerationOptions"/>): MaxOutputTokens →
/// max_new_tokens; Temperature, TopP, TopK → sampling (Temperature 0 → greedy); Seed; StopSequences → stop_strings
/// (the answer ends before the first one, across token boundaries); and from AdditionalProperties "num_beams",
/// "min_new_tokens", "repetition_penalty", "no_repeat_ngram_size". A cancelled token stops the decoding before its
/// next step, whatever the search (greedy, sampling, beam search), and the call ends with
/// <see cref="OperationCanceledException"/>; one already cancelled is refused before the image is decoded (after the
/// options and the conversation are checked).
/// </summary>
public sealed class Blip2ChatClient : IChatClient
{
    private readonly ChatClientMetadata _metadata;

    public Blip2ChatClient(Blip2Captioner captioner, string? modelId = null)
    {
        Captioner = captioner ?? throw new ArgumentNullException(nameof(captioner));
        ModelId = modelId ?? ModelIds.Of(captioner.Model);
        _metadata = new ChatClientMetadata("blip2compiler", null, ModelId);
    }

    public Blip2Captioner Captioner { get; }

    public string ModelId { get; }

    /// <summary>How a question becomes a prompt ({0} = the user's text); null sends the text as is.</summary>
    public string? PromptTemplate { get; init; } = VqaTemplate;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Captioner.Model.ThrowIfDisposed();
        var generation = ToGenerationOptions(options);
        var (image, fit) = PromptOf(messages, generation);
        var answer = await Task.Run(() => Captioner.Caption([image], [fit.Prompt], generation, cancellationToken)[0], cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, answer))
        {
            ModelId = ModelId,
            FinishReason = ChatFinishReason.Stop,
            CreatedAt = DateTimeOffset.UtcNow,
            AdditionalProperties = fit.ToAdditionalProperties(),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Captioner.Model.ThrowIfDisposed();
        // Decoding runs on a worker; each new piece of text goes through a channel as soon as its token is chosen.
        // A reader that stops early or is cancelled stops the worker at its next step, and waits for it, so the
        // model is never left decoding for nobody (or disposed under a running worker).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var generation = ToGenerationOptions(options);
        var (image, fit) = PromptOf(messages, generation);
        var pieces = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var worker = Task.Run(() =>
        {
            try { Captioner.CaptionStreaming(image, fit.Prompt, generation, piece => pieces.Writer.TryWrite(piece), stop.Token); }
            finally { pieces.Writer.TryComplete(); }
        }, stop.Token);
        try
        {
            while (await pieces.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                while (pieces.Reader.TryRead(out var piece))
                {
                    cancellationToken.ThrowIfCancellationRequested();   // not one more piece once cancelled
                    yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = ModelId, CreatedAt = DateTimeOffset.UtcNow };
                }
        }
        finally
        {
            if (!worker.IsCompleted)
            {
                stop.Cancel();
                await worker.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
            }
        }
        await worker.ConfigureAwait(false);   // surfaces a decoding error
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant, ModelId = ModelId, FinishReason = ChatFinishReason.Stop, CreatedAt = DateTimeOffset.UtcNow,
            AdditionalProperties = fit.ToAdditionalProperties(),
        };
    }

    private const string VqaTemplate = "Question: {0} Answer:";

    // With the VQA template the whole conversation counts (ConversationPrompt: LAVIS's multi-turn prompt, the oldest
    // turns dropped to fit, as blip2 serve and blip2 chat build it); another template sees the last user text alone.
    private (Processing.ImageSource Image, ConversationFit Fit) PromptOf(IEnumerable<ChatMessage> messages, GenerationOptions generation)
    {
        if (PromptTemplate == VqaTemplate)
        {
            var conversation = ConversationPrompt.FromMessages(messages);
            return (conversation.Image, conversation.Fit(Captioner, generation));
        }
        var (image, text) = ChatContentReader.Read(messages);
        var prompt = text.Length == 0 ? null : PromptTemplate is null ? text : string.Format(PromptTemplate, text);
        return (image, new ConversationFit(prompt, 0, 0, 0));
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(Captioner)) return Captioner;
        if (serviceType.IsInstanceOfType(Captioner.Model)) return Captioner.Model;
        return null;
    }

    /// <summary>The client does not own the model: dispose it yourself.</summary>
    public void Dispose() { }

    /// <summary>
    /// How chat options become generation options (unset ones fall back to the checkpoint's generation_config.json).
    /// Not mapped, and why: FrequencyPenalty and PresencePenalty are OpenAI's additive penalties, which Hugging Face's
    /// generate has no processor for (its multiplicative repetition_penalty is another formula: AdditionalProperties
    /// "repetition_penalty"), so a non-zero one is an <see cref="UnsupportedChatOptionException"/> rather than an
    /// answer that ignored it; so are a JSON ResponseFormat (nothing constrains BLIP-2's text to JSON) and a ToolMode
    /// that requires a tool call (BLIP-2 calls no tools). Tools under ToolMode auto or none are left unused, as a
    /// model that never calls them does; Instructions are left out as system messages are (BLIP-2 has no
    /// instruction prompt: <see cref="ConversationPrompt"/>); ModelId, ConversationId and Reasoning have no
    /// counterpart in a client over one loaded model that keeps no state.
    /// </summary>
    public static GenerationOptions ToGenerationOptions(ChatOptions? options)
    {
        if (options is null) return new GenerationOptions();
        Refuse(nameof(ChatOptions.FrequencyPenalty), options.FrequencyPenalty, options.FrequencyPenalty is { } f && f != 0,
            "OpenAI's frequency penalty has no counterpart in Hugging Face's generate: use AdditionalProperties[\"repetition_penalty\"] (multiplicative, 1.0 = none)");
        Refuse(nameof(ChatOptions.PresencePenalty), options.PresencePenalty, options.PresencePenalty is { } p && p != 0,
            "OpenAI's presence penalty has no counterpart in Hugging Face's generate: use AdditionalProperties[\"repetition_penalty\"] (multiplicative, 1.0 = none)");
        Refuse(nameof(ChatOptions.ResponseFormat), options.ResponseFormat, options.ResponseFormat is ChatResponseFormatJson,
            "BLIP-2 answers in free text; nothing constrains its output to JSON");
        Refuse(nameof(ChatOptions.ToolMode), options.ToolMode, options.ToolMode is RequiredChatToolMode,
            "BLIP-2 does not call tools, so a required tool call cannot be made");
        bool sampling = options.Temperature is > 0 || options.TopP is not null || options.TopK is not null;
        var extra = options.AdditionalProperties;
        return new GenerationOptions
        {
            MaxNewTokens = options.MaxOutputTokens,
            DoSample = options.Temperature is 0 ? false : sampling ? true : null,
            Temperature = options.Temperature is > 0 ? options.Temperature : null,
            TopP = options.TopP,
            TopK = options.TopK,
            Seed = options.Seed,
            // An empty list asks for no stop strings (OpenAI's stop: []); GenerationOptions.Validate refuses an empty string.
            StopStrings = options.StopSequences is { Count: > 0 } stops ? [.. stops] : null,
            NumBeams = extra?.TryGetValue("num_beams", out int beams) == true ? beams : null,
            MinNewTokens = extra?.TryGetValue("min_new_tokens", out int minNew) == true ? minNew : null,
            RepetitionPenalty = extra?.TryGetValue("repetition_penalty", out double penalty) == true ? penalty : null,
            NoRepeatNgramSize = extra?.TryGetValue("no_repeat_ngram_size", out int ngram) == true ? ngram : null,
        };
    }

    private static void Refuse(string option, object? value, bool refused, string why)
    {
        if (refused) throw new UnsupportedChatOptionException(option, value, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"ChatOptions.{option} = {value}: {why}"));
    }
}
