using System.Runtime.CompilerServices;
using Blip2Compiler.Generation;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// <see cref="IChatClient"/> over a BLIP-2 conditional-generation model: the last image of the conversation plus
/// the conversation's questions and answers give a caption (no text in the last user message) or an answer
/// (<see cref="ConversationPrompt"/>: "Question: q1 Answer: a1. Question: q2 Answer:"; with another
/// <see cref="PromptTemplate"/>, the last user text put into it).
/// <see cref="ChatOptions"/> map to generation options: MaxOutputTokens → max_new_tokens; Temperature, TopP, TopK →
/// sampling (Temperature 0 → greedy); Seed; and from AdditionalProperties "num_beams", "min_new_tokens",
/// "repetition_penalty".
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
        var (image, prompt) = PromptOf(messages, generation);
        var answer = await Task.Run(() => Captioner.Caption([image], [prompt], generation)[0], cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, answer))
        {
            ModelId = ModelId,
            FinishReason = ChatFinishReason.Stop,
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Captioner.Model.ThrowIfDisposed();
        // Decoding runs on a worker; each new piece of text goes through a channel as soon as its token is chosen.
        var generation = ToGenerationOptions(options);
        var (image, prompt) = PromptOf(messages, generation);
        var pieces = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var worker = Task.Run(() =>
        {
            try { Captioner.CaptionStreaming(image, prompt, generation, piece => pieces.Writer.TryWrite(piece)); }
            finally { pieces.Writer.TryComplete(); }
        }, cancellationToken);
        await foreach (var piece in pieces.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = ModelId, CreatedAt = DateTimeOffset.UtcNow };
        await worker.ConfigureAwait(false);   // surfaces a decoding error
        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, ModelId = ModelId, FinishReason = ChatFinishReason.Stop, CreatedAt = DateTimeOffset.UtcNow };
    }

    private const string VqaTemplate = "Question: {0} Answer:";

    // With the VQA template the whole conversation counts (ConversationPrompt: LAVIS's multi-turn prompt, the oldest
    // turns dropped to fit, as blip2 serve builds it); another template sees the last user text alone.
    private (Processing.ImageSource Image, string? Prompt) PromptOf(IEnumerable<ChatMessage> messages, GenerationOptions generation)
    {
        if (PromptTemplate == VqaTemplate)
        {
            var conversation = ConversationPrompt.FromMessages(messages);
            var maxNew = GenerationDefaults.Merge(Captioner.Defaults, generation).MaxNewTokens ?? 20;
            return (conversation.Image, conversation.Fit(Captioner, maxNew));
        }
        var (image, text) = ChatContentReader.Read(messages);
        return (image, text.Length == 0 ? null : PromptTemplate is null ? text : string.Format(PromptTemplate, text));
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

    /// <summary>How chat options become generation options (unset ones fall back to the checkpoint's generation_config.json).</summary>
    public static GenerationOptions ToGenerationOptions(ChatOptions? options)
    {
        if (options is null) return new GenerationOptions();
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
            NumBeams = extra?.TryGetValue("num_beams", out int beams) == true ? beams : null,
            MinNewTokens = extra?.TryGetValue("min_new_tokens", out int minNew) == true ? minNew : null,
            RepetitionPenalty = extra?.TryGetValue("repetition_penalty", out double penalty) == true ? penalty : null,
        };
    }
}
