using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Blip2Compiler;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Serving;
using Microsoft.AspNetCore.Http;

namespace Blip2.Cli.Serving;

/// <summary>
/// <c>POST /v1/chat/completions</c>: the conversation becomes one engine request (<see cref="ConversationPrompt"/>:
/// the latest image, LAVIS's multi-turn prompt, oldest turns dropped to fit, said in <see cref="ConversationHeaders"/>), answered as one JSON object or as
/// server-sent events shaped exactly like OpenAI's chunks, ending with <c>data: [DONE]</c>.
/// </summary>
public static class ChatCompletions
{
    public static async Task HandleAsync(HttpContext http, ServedModel served, ServerOptions options, ImageUrls images, ServerMetrics metrics)
    {
        var engine = served.Engine ?? throw new ApiException(HttpStatusCode.NotFound,
            $"the model '{served.Id}' is an image-text retrieval model: it serves /v1/embeddings and /v1/match, not chat completions", code: "unsupported_endpoint");
        using var body = await RequestBody.ReadJsonAsync(http, options.MaxBodyBytes).ConfigureAwait(false);
        var request = await ChatCompletionRequest.ReadAsync(body.RootElement, images, options, http.RequestAborted).ConfigureAwait(false);
        Models.Check(request.Model, served);

        ConversationPrompt conversation;
        try { conversation = ConversationPrompt.FromMessages(request.Messages); }
        catch (Blip2Exception e) { throw ApiException.BadRequest(e.Message, "messages", "invalid_value"); }
        // The oldest turns go until the prompt and the new tokens fit the model, and the engine's rows; the response's
        // headers say what was left out (set now: a stream sends them with its first chunk).
        var fit = conversation.Fit(engine.Captioner, request.Options, (engine as ContinuousBatchingEngine)?.MaxSequenceLength);
        var prompt = fit.Prompt;
        http.Response.Headers[ConversationHeaders.TurnsKept] = fit.TurnsKept.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers[ConversationHeaders.TurnsDropped] = fit.TurnsDropped.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers[ConversationHeaders.EarlierImageTurns] = fit.EarlierImageTurns.ToString(CultureInfo.InvariantCulture);

        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var completion = await engine.GenerateAsync(new EngineRequest
            {
                Image = conversation.Image, Prompt = prompt, Options = request.Options, Stop = request.Stop,
            }, http.RequestAborted).ConfigureAwait(false);
            metrics.Completed(completion);
            await http.Response.WriteAsJsonAsync(new
            {
                id, @object = "chat.completion", created, model = served.Id,
                choices = completion.Sequences.Select((s, i) => new
                {
                    index = i,
                    message = new { role = "assistant", content = s.Text, refusal = (string?)null },
                    logprobs = (object?)null,
                    finish_reason = Reason(s.FinishReason),
                }),
                usage = Usage(completion),
                system_fingerprint = (string?)null,
            }, http.RequestAborted).ConfigureAwait(false);
            return;
        }

        var pieces = Channel.CreateUnbounded<(int Choice, string Text)>(new UnboundedChannelOptions { SingleReader = true });
        var task = engine.GenerateAsync(new EngineRequest
        {
            Image = conversation.Image, Prompt = prompt, Options = request.Options, Stop = request.Stop,
            OnText = (choice, text) => pieces.Writer.TryWrite((choice, text)),
        }, http.RequestAborted);
        _ = task.ContinueWith(_ => pieces.Writer.TryComplete(), TaskScheduler.Default);

        // Headers wait for the first text or the end: a request that fails before any text (a bad image, a prompt
        // too long) still gets its status and error JSON.
        await Task.WhenAny(pieces.Reader.WaitToReadAsync(http.RequestAborted).AsTask(), task).ConfigureAwait(false);
        if (task.IsFaulted || task.IsCanceled) await task.ConfigureAwait(false);

        http.Response.ContentType = "text/event-stream; charset=utf-8";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var chunk = new Chunk(http, id, created, served.Id, request.IncludeUsage);
        for (var i = 0; i < request.Choices; i++)
            await chunk.WriteAsync(new { index = i, delta = new { role = "assistant", content = "", refusal = (string?)null }, logprobs = (object?)null, finish_reason = (string?)null }).ConfigureAwait(false);
        try
        {
            await foreach (var (choice, text) in pieces.Reader.ReadAllAsync(http.RequestAborted).ConfigureAwait(false))
                await chunk.WriteAsync(new { index = choice, delta = new { content = text }, logprobs = (object?)null, finish_reason = (string?)null }).ConfigureAwait(false);
            var completion = await task.ConfigureAwait(false);
            metrics.Completed(completion);
            for (var i = 0; i < completion.Sequences.Count; i++)
                await chunk.WriteAsync(new { index = i, delta = new { }, logprobs = (object?)null, finish_reason = Reason(completion.Sequences[i].FinishReason) }).ConfigureAwait(false);
            if (request.IncludeUsage) await chunk.WriteUsageAsync(Usage(completion)).ConfigureAwait(false);
        }
        catch (Exception e) when (!http.RequestAborted.IsCancellationRequested && OpenAiErrors.From(e, options.RetryAfterSeconds) is { } error)
        {
            // Mid-stream the status is sent already: the error goes as an event, as OpenAI does.
            await chunk.WriteRawAsync(JsonSerializer.Serialize(OpenAiErrors.Body(error))).ConfigureAwait(false);
        }
        await chunk.WriteRawAsync("[DONE]").ConfigureAwait(false);
    }

    private static string Reason(FinishReason reason) => reason == FinishReason.Length ? "length" : "stop";

    private static object Usage(EngineCompletion c) => new
    {
        prompt_tokens = c.PromptTokens, completion_tokens = c.CompletionTokens, total_tokens = c.PromptTokens + c.CompletionTokens,
    };

    /// <summary>One <c>chat.completion.chunk</c> event after another, flushed at once.</summary>
    private sealed class Chunk(HttpContext http, string id, long created, string model, bool includeUsage)
    {
        public Task WriteAsync(object choice) => WriteRawAsync(JsonSerializer.Serialize(includeUsage
            ? new { id, @object = "chat.completion.chunk", created, model, system_fingerprint = (string?)null, choices = new[] { choice }, usage = (object?)null }
            : (object)new { id, @object = "chat.completion.chunk", created, model, system_fingerprint = (string?)null, choices = new[] { choice } }));

        public Task WriteUsageAsync(object usage) => WriteRawAsync(JsonSerializer.Serialize(
            new { id, @object = "chat.completion.chunk", created, model, system_fingerprint = (string?)null, choices = Array.Empty<object>(), usage }));

        public async Task WriteRawAsync(string data)
        {
            await http.Response.WriteAsync("data: " + data + "\n\n", http.RequestAborted).ConfigureAwait(false);
            await http.Response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
        }
    }
}
