using System.Runtime.CompilerServices;
using Blip2Compiler.Generation;
using Microsoft.Extensions.AI;

namespace Blip2Compiler.AI;

/// <summary>
/// <see cref="IChatClient"/> over a BLIP-2 conditional-generation model: the last image of the conversation plus
/// the last user text gives a caption (no text) or an answer (text, put into <see cref="PromptTemplate"/>).
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
    public string? PromptTemplate { get; init; } = "Question: {0} Answer:";

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Captioner.Model.ThrowIfDisposed();
        var (image, text) = ChatContentReader.Read(messages);
        var prompt = text.Length == 0 ? null : PromptTemplate is null ? text : string.Format(PromptTemplate, text);
        var generation = ToGenerationOptions(options);
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
        var (image, text) = ChatContentReader.Read(messages);
        var prompt = text.Length == 0 ? null : PromptTemplate is null ? text : string.Format(PromptTemplate, text);
        var pieces = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var generation = ToGenerationOptions(options);
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
