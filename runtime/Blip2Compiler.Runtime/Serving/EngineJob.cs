using System.Diagnostics;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using static TorchSharp.torch;

namespace Blip2Compiler.Serving;

/// <summary>
/// One request inside the engine: its prepared inputs and resolved plan, and, once running, the host state of its
/// rows (tokens so far, which rows are finished, their text). A request's <see cref="Copies"/> rows enter and leave
/// together and sample from one generator, exactly as a lone <c>Generate</c> decodes its num_return_sequences rows
/// side by side: rows finished early get the pad id (as Hugging Face's loop feeds them) until all are done.
/// </summary>
internal sealed class EngineJob : IDisposable
{
    private readonly HashSet<long> _eos;
    private List<long>[] _tokens = [];
    private bool[] _unfinished = [];
    private FinishReason[] _reasons = [];
    private SequenceText[] _texts = [];
    private long[] _next = [];
    private int _generated;
    private readonly CancellationTokenSource? _deadline;   // cancels Cancellation at the request's deadline (owned)

    public EngineJob(EngineRequest request, PreparedGeneration prepared, long[] promptIds, long[] contextIds,
        int promptPositions, Tensor pixels, CancellationToken cancellation, CancellationTokenSource? deadline = null)
    {
        _deadline = deadline;
        Request = request;
        Prepared = prepared;
        PromptIds = promptIds;
        ContextIds = contextIds;
        PromptPositions = promptPositions;
        Pixels = pixels;
        Cancellation = cancellation;
        Processors = LogitsProcessorList.For(prepared.Plan);
        Stops = SequenceText.Stops(request.Stop, prepared.Settings);
        _eos = prepared.Plan.EosTokenIds is { } ids ? [.. ids] : [];
        Enqueued = Stopwatch.GetTimestamp();
    }

    public EngineRequest Request { get; }

    /// <summary>What the model's generation prelude made of the request's options (merged, validated, resolved).</summary>
    public PreparedGeneration Prepared { get; }
    public GenerationPlan Plan => Prepared.Plan;
    public long[] PromptIds { get; }
    public long[] ContextIds { get; }
    public int PromptPositions { get; }
    public Tensor Pixels { get; }
    public CancellationToken Cancellation { get; }
    public LogitsProcessorList Processors { get; }

    /// <summary>The request's <c>stop</c> and its options' <c>stop_strings</c>.</summary>
    public IReadOnlyList<string>? Stops { get; }
    public TaskCompletionSource<EngineCompletion> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True once, for whoever ends the request (completed, cancelled or failed) and then sets <see cref="Completion"/>.</summary>
    public bool TryEnd() => Interlocked.Exchange(ref _ended, 1) == 0;
    private int _ended;
    public CancellationTokenRegistration Registration { get; set; }
    public long Enqueued { get; }
    public long Started { get; private set; }

    /// <summary>Rows decoded for the request: beams for beam search, else num_return_sequences.</summary>
    public int Copies => Plan.NumBeams > 1 ? Plan.NumBeams : Plan.NumReturnSequences;

    /// <summary>Beam search runs as its own group (a lone <c>Generate</c> on the engine's side lane).</summary>
    public bool IsBeamSearch => Plan.NumBeams > 1;

    /// <summary>First slot of the request's rows while it runs in the batch.</summary>
    public int Slot { get; set; }

    /// <summary>The request's own token choice is needed: processors, or sampling; else the batch's argmax is it.</summary>
    public bool ChoosesOwnTokens => Plan.DoSample || Processors.Processors.Count > 0;

    /// <summary>Ids so far, for the processors: [Copies, max_length] on the device, context first (processors only).</summary>
    public Tensor? Sequences { get; private set; }

    /// <summary>The request's sampler: its own seeded generator (CPU), or null for torch's global one.</summary>
    public Generator? Generator { get; private set; }

    /// <summary>The token each row feeds the next step (the pad id for finished rows).</summary>
    public ReadOnlySpan<long> NextInputs => _next;

    public int Generated => _generated;

    /// <summary>Length of the ids so far (context + generated), what the processors see.</summary>
    public int Length => ContextIds.Length + _generated;

    public bool IsDone { get; private set; }

    public bool IsCancelled => Cancellation.IsCancellationRequested || Request.Deadline is { } d && DateTimeOffset.UtcNow >= d;

    /// <summary>Starts the rows' host state (and the processors' id buffer) when the request enters the batch.</summary>
    public void Start(Device device, bool trackIds = true)
    {
        Started = Stopwatch.GetTimestamp();
        _tokens = [.. Enumerable.Range(0, Copies).Select(_ => new List<long>())];
        _unfinished = [.. Enumerable.Repeat(true, Copies)];
        _reasons = new FinishReason[Copies];
        _texts = [.. Enumerable.Range(0, Copies).Select(_ => new SequenceText(Stops))];
        _next = new long[Copies];
        if (trackIds && Processors.Processors.Count > 0)
        {
            Sequences = full(Copies, Plan.MaxLength, Plan.PadTokenId ?? 0, ScalarType.Int64, device).DetachFromDisposeScope();
            using var context = tensor(ContextIds, ScalarType.Int64, device);
            Sequences.narrow(1, 0, ContextIds.Length).copy_(context.unsqueeze(0).expand(Copies, -1));
        }
        if (Plan.DoSample && Plan.Seed is { } seed) Generator = new Generator(unchecked((ulong)seed), CPU);
    }

    /// <summary>
    /// Takes the tokens chosen for the request's rows this step (Hugging Face's <c>_sample</c> step: finished rows get
    /// the pad id; EOS finishes a row; max_new_tokens finishes all) and updates texts, stop sequences and streaming.
    /// </summary>
    public int Accept(ReadOnlySpan<long> chosen, ITextTokenizer tokenizer)
    {
        _generated++;
        var added = 0;
        for (var r = 0; r < Copies; r++)
        {
            if (!_unfinished[r])
            {
                _next[r] = Plan.PadTokenId ?? chosen[r];
                continue;
            }
            var token = chosen[r];
            _next[r] = token;
            _tokens[r].Add(token);
            added++;
            if (_eos.Contains(token))
            {
                _unfinished[r] = false;
                _reasons[r] = FinishReason.Stop;
            }
            if (Stops is { Count: > 0 } || Request.OnText is not null)
            {
                var piece = _texts[r].Update(Decode(tokenizer, r));
                if (piece.Length > 0) Stream(r, piece);
                if (_texts[r].Stopped && _unfinished[r])
                {
                    _unfinished[r] = false;
                    _reasons[r] = FinishReason.Stop;
                }
            }
        }
        if (Sequences is not null)
        {
            using var ids = tensor(_next, ScalarType.Int64, Sequences.device);
            Sequences.select(1, Length - 1).copy_(ids);
        }
        if (_generated >= Plan.MaxNewTokens)
            for (var r = 0; r < Copies; r++)
                if (_unfinished[r])
                {
                    _unfinished[r] = false;
                    _reasons[r] = FinishReason.Length;
                }
        IsDone = !_unfinished.Contains(true);
        return added;
    }

    /// <summary>The request's result from its rows (after <see cref="IsDone"/>).</summary>
    public EngineCompletion Result(ITextTokenizer tokenizer)
    {
        var sequences = new EngineSequence[Copies];
        for (var r = 0; r < Copies; r++)
        {
            if (!_texts[r].Stopped) _texts[r].Update(Decode(tokenizer, r));
            var rest = _texts[r].Finish();
            if (rest.Length > 0) Stream(r, rest);
            sequences[r] = new EngineSequence(_texts[r].Text, _tokens[r].ToArray(), _reasons[r]);
        }
        return Summary(sequences);
    }

    /// <summary>A result made elsewhere (the beam-search lane): texts cut at stop sequences, rows in order.</summary>
    public EngineCompletion Result(IReadOnlyList<long[]> newTokens, ITextTokenizer tokenizer)
    {
        var sequences = new EngineSequence[newTokens.Count];
        for (var r = 0; r < newTokens.Count; r++)
        {
            var tokens = TrimPadding(newTokens[r]);
            var text = new SequenceText(Stops);
            text.Update(tokenizer.Decode(tokens.Select(id => checked((int)id))));
            var reason = text.Stopped || tokens.Length > 0 && _eos.Contains(tokens[^1]) ? FinishReason.Stop : FinishReason.Length;
            sequences[r] = new EngineSequence(text.Text, tokens, reason);
        }
        return Summary(sequences);
    }

    /// <summary>The caller's streaming callback threw: the request fails with it, the engine goes on.</summary>
    public Exception? CallbackError { get; private set; }

    private void Stream(int row, string piece)
    {
        if (CallbackError is not null || Request.OnText is not { } onText) return;
        try
        {
            onText(row, piece);
        }
        catch (Exception e)
        {
            CallbackError = new Blip2Exception($"the request's OnText callback threw: {e.Message}", e);
        }
    }


    // A lone Generate fills finished rows with the pad id up to the longest row: the row's own tokens end at its EOS.
    private long[] TrimPadding(long[] tokens)
    {
        for (var i = 0; i < tokens.Length; i++)
            if (_eos.Contains(tokens[i])) return tokens[..(i + 1)];
        return tokens;
    }

    private EngineCompletion Summary(IReadOnlyList<EngineSequence> sequences)
    {
        var now = Stopwatch.GetTimestamp();
        return new EngineCompletion(sequences, PromptIds.Length, sequences.Sum(s => s.Tokens.Count),
            Stopwatch.GetElapsedTime(Enqueued, Started == 0 ? now : Started), Stopwatch.GetElapsedTime(Enqueued, now));
    }

    private string Decode(ITextTokenizer tokenizer, int row) => tokenizer.Decode(_tokens[row].Select(id => checked((int)id)));

    public void Dispose()
    {
        Registration.Dispose();
        _deadline?.Dispose();
        Pixels.Dispose();
        Sequences?.Dispose();
        Generator?.Dispose();
    }
}
