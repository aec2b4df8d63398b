using System.Text.Json;
using Blip2Compiler.Generation;
using Microsoft.Extensions.AI;

namespace Blip2.Cli.Serving;

/// <summary>
/// An OpenAI Chat Completions request as this server understands it. Sampling: <c>temperature</c> 0 is greedy,
/// above 0 samples; unset (with no <c>top_p</c>) uses the checkpoint's generation_config.json (greedy for BLIP-2).
/// Extensions, as vLLM names them: <c>top_k</c>, <c>min_tokens</c>, <c>repetition_penalty</c>, <c>num_beams</c>.
/// What generate cannot honour is a 400 (<see cref="RefuseUnsupported"/>); other fields are ignored.
/// </summary>
public sealed record ChatCompletionRequest(
    string? Model,
    IReadOnlyList<ChatMessage> Messages,
    GenerationOptions Options,
    IReadOnlyList<string> Stop,
    bool Stream,
    bool IncludeUsage,
    int Choices)
{
    public static async Task<ChatCompletionRequest> ReadAsync(JsonElement body, ImageUrls images, ServerOptions options, CancellationToken cancellationToken)
    {
        var model = JsonFields.String(body, "model");
        RefuseUnsupported(body);
        var messages = await ReadMessagesAsync(body, images, cancellationToken).ConfigureAwait(false);

        var maxTokens = JsonFields.Int(body, "max_completion_tokens", 1, int.MaxValue) ?? JsonFields.Int(body, "max_tokens", 1, int.MaxValue);
        var temperature = JsonFields.Number(body, "temperature", 0, 2);
        var topP = JsonFields.Number(body, "top_p", 0, 1);
        var topK = JsonFields.Int(body, "top_k", 0, int.MaxValue);
        var n = JsonFields.Int(body, "n", 1, options.MaxChoices) ?? 1;
        var sampling = temperature is > 0 || temperature is null && (topP is not null || topK is > 0);
        var generation = new GenerationOptions
        {
            MaxNewTokens = maxTokens,
            DoSample = temperature is 0 ? false : sampling ? true : null,
            Temperature = temperature is > 0 ? temperature : null,
            TopP = topP,
            TopK = topK,
            Seed = JsonFields.Long(body, "seed"),
            NumReturnSequences = n == 1 ? null : n,
            MinNewTokens = JsonFields.Int(body, "min_tokens", 0, int.MaxValue),
            RepetitionPenalty = JsonFields.Number(body, "repetition_penalty", double.Epsilon, double.MaxValue),
            NumBeams = JsonFields.Int(body, "num_beams", 1, 16),
        };

        var stream = JsonFields.Bool(body, "stream") ?? false;
        var includeUsage = false;
        if (JsonFields.Get(body, "stream_options") is { } streamOptions)
        {
            if (streamOptions.ValueKind != JsonValueKind.Object) throw JsonFields.Wrong("stream_options", "an object", streamOptions);
            includeUsage = JsonFields.Bool(streamOptions, "include_usage") ?? false;
        }
        return new ChatCompletionRequest(model, messages, generation, ReadStop(body), stream, includeUsage, n);
    }

    /// <summary>
    /// What an OpenAI client can ask that BLIP-2's generate cannot do, refused as a 400 naming the field (as
    /// <c>Blip2ChatClient</c> refuses it: UnsupportedChatOptionException) instead of an answer that ignored it:
    /// OpenAI's additive frequency/presence penalties (Hugging Face has only the multiplicative repetition_penalty,
    /// here as an extension), a JSON response format, a required tool call. Their neutral values (0, "text",
    /// "none"/"auto") pass, as OpenAI's clients often send them.
    /// </summary>
    private static void RefuseUnsupported(JsonElement body)
    {
        foreach (var name in (string[])["frequency_penalty", "presence_penalty"])
            if (JsonFields.Number(body, name, -2, 2) is { } penalty && penalty != 0)
                throw ApiException.BadRequest($"'{name}' is not supported: BLIP-2's generation has no additive penalty (use the extension 'repetition_penalty')", name, "unsupported_value");
        if (JsonFields.Get(body, "response_format") is { } format)
        {
            if (format.ValueKind != JsonValueKind.Object) throw JsonFields.Wrong("response_format", "an object", format);
            var type = JsonFields.String(format, "type", "response_format.type");
            if (type is not (null or "text"))
                throw ApiException.BadRequest($"response_format '{type}' is not supported: BLIP-2 writes free text", "response_format", "unsupported_value");
        }
        if (JsonFields.Get(body, "tool_choice") is { } choice && !(choice.ValueKind == JsonValueKind.String && choice.GetString() is "none" or "auto"))
            throw ApiException.BadRequest("'tool_choice' other than \"none\" or \"auto\" is not supported: BLIP-2 calls no tools", "tool_choice", "unsupported_value");
    }

    private static IReadOnlyList<string> ReadStop(JsonElement body)
    {
        if (JsonFields.Get(body, "stop") is not { } stop) return [];
        if (stop.ValueKind == JsonValueKind.String) return [stop.GetString()!];
        if (stop.ValueKind != JsonValueKind.Array) throw JsonFields.Wrong("stop", "a string or an array of strings", stop);
        if (stop.GetArrayLength() > 4) throw ApiException.BadRequest("'stop' takes at most 4 sequences", "stop", "invalid_value");
        return [.. stop.EnumerateArray().Select((s, i) => s.ValueKind == JsonValueKind.String ? s.GetString()! : throw JsonFields.Wrong($"stop[{i}]", "a string", s))];
    }

    private static async Task<IReadOnlyList<ChatMessage>> ReadMessagesAsync(JsonElement body, ImageUrls images, CancellationToken cancellationToken)
    {
        if (JsonFields.Get(body, "messages") is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
            throw ApiException.BadRequest("'messages' must be a non-empty array of messages", "messages", "invalid_value");
        var messages = new List<ChatMessage>();
        var i = 0;
        foreach (var message in array.EnumerateArray())
        {
            var path = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object) throw JsonFields.Wrong(path, "an object", message);
            var role = JsonFields.String(message, "role", path + ".role") switch
            {
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "system" or "developer" => ChatRole.System,
                "tool" => ChatRole.Tool,
                null => throw ApiException.BadRequest($"'{path}.role' is missing", path + ".role", "invalid_value"),
                var other => throw ApiException.BadRequest($"'{path}.role' must be system, developer, user, assistant or tool, got '{other}'", path + ".role", "invalid_value"),
            };
            var contents = new List<AIContent>();
            if (JsonFields.Get(message, "content") is { } content)
            {
                if (content.ValueKind == JsonValueKind.String) contents.Add(new TextContent(content.GetString()));
                else if (content.ValueKind == JsonValueKind.Array)
                {
                    var j = 0;
                    foreach (var part in content.EnumerateArray())
                        contents.Add(await ReadPartAsync(part, $"{path}.content[{j++}]", images, cancellationToken).ConfigureAwait(false));
                }
                else throw JsonFields.Wrong(path + ".content", "a string or an array of content parts", content);
            }
            messages.Add(new ChatMessage(role, contents));
        }
        return messages;
    }

    private static async Task<AIContent> ReadPartAsync(JsonElement part, string path, ImageUrls images, CancellationToken cancellationToken)
    {
        if (part.ValueKind != JsonValueKind.Object) throw JsonFields.Wrong(path, "an object", part);
        switch (JsonFields.String(part, "type", path + ".type"))
        {
            case "text":
                return new TextContent(JsonFields.String(part, "text", path + ".text") ?? "");
            case "image_url":
                var imageUrl = JsonFields.Get(part, "image_url");
                var url = imageUrl switch
                {
                    { ValueKind: JsonValueKind.String } s => s.GetString(),
                    { ValueKind: JsonValueKind.Object } o => JsonFields.String(o, "url", path + ".image_url.url"),
                    _ => null,
                } ?? throw ApiException.BadRequest($"'{path}.image_url.url' is missing", path + ".image_url.url", "invalid_value");
                return await images.ReadAsync(url, path + ".image_url.url", cancellationToken).ConfigureAwait(false);
            case var other:
                throw ApiException.BadRequest($"'{path}.type' must be 'text' or 'image_url', got '{other}'", path + ".type", "invalid_value");
        }
    }
}
