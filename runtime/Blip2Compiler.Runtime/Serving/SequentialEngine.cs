using System.Diagnostics;
using System.Threading.Channels;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;

namespace Blip2Compiler.Serving;

/// <summary>
/// The plain engine: requests wait in a bounded queue and run one at a time, each as one
/// <see cref="Blip2Captioner.Generate"/> call on a worker thread. It is exact by construction (each request is a
/// lone Generate call) and is the baseline the continuously batched engine is measured against.
/// </summary>
/// <remarks>
/// Cancellation, deadlines and stop sequences act between decoding steps: the request's token goes into the run,
/// which checks it before every step of every search (beam search included); the step callback
/// (<see cref="GenerationOptions.OnTokens"/>) sees every new token, feeds each row's <see cref="SequenceText"/>,
/// and ends the decoding loop early (by throwing) once every row has stopped. Beam search reports no tokens: its stop
/// sequences are applied to the final text.
/// </remarks>
public sealed class SequentialEngine : IGenerationEngine
{
    private readonly EngineOptions _options;
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abandon = new();
    private readonly Task _worker;
    private int _queued;
    private int _running;
    private volatile bool _stopping;
    private long _completed, _failed, _cancelled, _rejected, _tokens, _steps;

    public SequentialEngine(Blip2Captioner captioner, EngineOptions? options = null)
    {
        Captioner = captioner ?? throw new ArgumentNullException(nameof(captioner));
        _options = options ?? new EngineOptions();
        if (_options.MaxQueue < 0) throw new ArgumentOutOfRangeException(nameof(options), "MaxQueue must not be negative");
        _worker = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public Blip2Captioner Captioner { get; }

    public EngineStatistics Statistics => new(
        Volatile.Read(ref _queued), _options.MaxQueue, Volatile.Read(ref _running), 1,
        Interlocked.Read(ref _completed), Interlocked.Read(ref _failed), Interlocked.Read(ref _cancelled),
        Interlocked.Read(ref _rejected), Interlocked.Read(ref _tokens), Interlocked.Read(ref _steps));

    public Task<EngineCompletion> GenerateAsync(EngineRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Image);
        if (_stopping) throw new EngineStoppedException();
        // Bad options fail here, before they take a place in the queue.
        GenerationDefaults.Merge(Captioner.Defaults, request.Options).Validate();
        if (Interlocked.Increment(ref _queued) > _options.MaxQueue)
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _rejected);
            throw new EngineQueueFullException(_options.MaxQueue);
        }
        var job = new Job(request, cancellationToken, Stopwatch.GetTimestamp());
        // A request cancelled while it waits leaves the queue at once (its place is free); the worker skips it.
        // One that is running stops at its next step instead.
        job.Registration = cancellationToken.Register(() =>
        {
            if (!job.TryLeave(Job.Cancelled)) return;
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _cancelled);
            job.Result.TrySetCanceled(cancellationToken);
        });
        if (!_queue.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _queued);
            job.Registration.Dispose();
            throw new EngineStoppedException();
        }
        return job.Result.Task;
    }

    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        try
        {
            await _worker.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Out of time: what is left is cancelled (the running request at its next step).
            _abandon.Cancel();
            await _worker.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        _abandon.Cancel();
        await _worker.ConfigureAwait(false);
        _abandon.Dispose();
    }

    private async Task Work()
    {
        await foreach (var job in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (!job.TryLeave(Job.Taken)) continue;   // cancelled while it waited
            Interlocked.Decrement(ref _queued);
            Interlocked.Exchange(ref _running, 1);
            try { Run(job); }
            finally
            {
                Interlocked.Exchange(ref _running, 0);
                job.Registration.Dispose();
            }
        }
    }

    private void Run(Job job)
    {
        var request = job.Request;
        using var deadline = request.Deadline is { } at ? new CancellationTokenSource(Clamp(at - DateTimeOffset.UtcNow)) : null;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation, _abandon.Token, deadline?.Token ?? CancellationToken.None);
        var cancel = linked.Token;
        if (cancel.IsCancellationRequested)
        {
            Interlocked.Increment(ref _cancelled);
            job.Result.TrySetCanceled(cancel);
            return;
        }
        var queueTime = Stopwatch.GetElapsedTime(job.Enqueued);
        try
        {
            var completion = Decode(request, cancel, queueTime, job.Enqueued);
            Interlocked.Increment(ref _completed);
            Interlocked.Add(ref _tokens, completion.CompletionTokens);
            job.Result.TrySetResult(completion);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _cancelled);
            job.Result.TrySetCanceled(cancel);
        }
        catch (Exception e) when (e is Blip2Exception or ArgumentException or IOException)
        {
            Interlocked.Increment(ref _failed);
            job.Result.TrySetException(e is Blip2Exception ? e : new Blip2Exception(e.Message, e));
        }
        catch (Exception e)
        {
            // Anything else is a bug, but it belongs to this request: the engine goes on with the next one.
            Interlocked.Increment(ref _failed);
            job.Result.TrySetException(e);
        }
    }

    private EngineCompletion Decode(EngineRequest request, CancellationToken cancel, TimeSpan queueTime, long enqueued)
    {
        var merged = GenerationDefaults.Merge(Captioner.Defaults, request.Options);
        var eos = new HashSet<long>(merged.EosTokenIds ?? (Captioner.Model.ModelInfo.EosTokenId is long id ? [id] : []));
        var rows = merged.NumReturnSequences ?? 1;
        var beams = (merged.NumBeams ?? 1) > 1;
        var texts = new RowText[rows];
        var ended = new bool[rows];
        for (var r = 0; r < rows; r++)
        {
            var row = r;
            texts[r] = new RowText(Captioner.Tokenizer, SequenceText.Stops(request.Stop, merged),
                request.OnText is { } onText && !beams ? piece => onText(row, piece) : null);
        }

        var options = (request.Options ?? new GenerationOptions()) with
        {
            // Every search's steps, beam search's included.
            OnStep = _ => Interlocked.Increment(ref _steps),
            OnTokens = step =>
            {
                for (var r = 0; r < rows && r < step.Length; r++)
                {
                    if (ended[r]) continue;
                    if (eos.Contains(step[r])) ended[r] = true;
                    else if (texts[r].Add(checked((int)step[r]))) ended[r] = true;
                }
                // Every row has met EOS or a stop sequence: nothing more to decode.
                if (Array.TrueForAll(ended, e => e)) throw new DecodingDone();
            },
        };

        cancel.ThrowIfCancellationRequested();
        var promptTokens = Captioner.PromptPositions(request.Prompt);
        GenerationResult? result = null;
        try { result = Captioner.Generate(request.Image, request.Prompt, options, cancel); }
        catch (DecodingDone) { }

        var sequences = new EngineSequence[rows];
        if (beams)
        {
            // Beam search: the whole text at once, cut at a stop sequence afterwards.
            for (var r = 0; r < rows; r++)
            {
                var tokens = result!.NewTokens[r];
                var kept = tokens.TakeWhile(t => !eos.Contains(t)).ToList();
                foreach (var t in kept) if (texts[r].Add(checked((int)t))) break;
                var stopped = texts[r].Stopped || kept.Count < tokens.Length;
                var text = texts[r].Finish();
                request.OnText?.Invoke(r, text);
                sequences[r] = new EngineSequence(text, [.. texts[r].Tokens.Select(t => (long)t)], stopped ? FinishReason.Stop : FinishReason.Length);
            }
        }
        else
        {
            for (var r = 0; r < rows; r++)
            {
                var text = texts[r].Finish();
                sequences[r] = new EngineSequence(text, [.. texts[r].Tokens.Select(t => (long)t)], ended[r] ? FinishReason.Stop : FinishReason.Length);
            }
        }
        var completionTokens = sequences.Sum(s => s.Tokens.Count);
        return new EngineCompletion(sequences, promptTokens, completionTokens, queueTime, Stopwatch.GetElapsedTime(enqueued));
    }

    /// <summary>One row's tokens and its <see cref="SequenceText"/> (stop sequences, final text for streaming).</summary>
    private sealed class RowText(Processing.ITextTokenizer tokenizer, IReadOnlyList<string>? stops, Action<string>? onText)
    {
        private readonly SequenceText _text = new(stops);
        private readonly List<int> _tokens = [];

        public IReadOnlyList<int> Tokens => _tokens;
        public bool Stopped => _text.Stopped;

        /// <summary>Takes one new (non-EOS) token; true when it completed a stop sequence.</summary>
        public bool Add(int token)
        {
            if (_text.Stopped) return false;
            _tokens.Add(token);
            Send(_text.Update(tokenizer.Decode(_tokens)));
            return _text.Stopped;
        }

        public string Finish()
        {
            Send(_text.Finish());
            return _text.Text;
        }

        private void Send(string piece)
        {
            if (piece.Length > 0) onText?.Invoke(piece);
        }
    }

    private static TimeSpan Clamp(TimeSpan left) => left < TimeSpan.Zero ? TimeSpan.Zero : left;

    /// <summary>Ends the decoding loop from its step callback once every row has stopped.</summary>
    private sealed class DecodingDone : Exception;

    private sealed class Job(EngineRequest request, CancellationToken cancellation, long enqueued)
    {
        public EngineRequest Request { get; } = request;
        public CancellationToken Cancellation { get; } = cancellation;
        public long Enqueued { get; } = enqueued;
        public TaskCompletionSource<EngineCompletion> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration { get; set; }

        public const int Waiting = 0, Taken = 1, Cancelled = 2;
        private int _state;

        /// <summary>Leaves the waiting state for <paramref name="state"/>; false when it already left (taken or cancelled).</summary>
        public bool TryLeave(int state) => Interlocked.CompareExchange(ref _state, state, Waiting) == Waiting;
    }
}
