using System.Diagnostics;
using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Serving;

/// <summary>
/// Iteration-level (continuous) batching on one conditional-generation model, as vLLM's scheduler: requests wait in
/// a bounded queue; one background loop runs one decoding step at a time for every running row; waiting requests are
/// encoded (vision tower, Q-Former, projection, prompt prefill — together when several wait) and join at the next
/// step; a request whose rows finish (EOS, length, stop sequence) or that is cancelled leaves at once and frees its
/// rows. The KV cache has <see cref="EngineOptions.MaxBatch"/> row slots with per-row positions, allocated once.
/// </summary>
/// <remarks>
/// Each row is decoded exactly as a lone <c>Generate</c> decodes it: the same prompt forward (prompts of one length
/// prefill together, never padded), the request's own logits processors, and for seeded sampling the request's own
/// generator, so a seeded request gives the same tokens whatever runs beside it. The model's row batch
/// (<see cref="IRowBatch"/>) keeps each row's own positions: OPT's position rule and padding mask per row; Flan-T5's
/// encoder states, encoder mask and cross-attention keys/values per slot (made once when the request joins), its
/// decoder's causal mask and relative position bias at the row's own position. Beam search requests run as their
/// own group on a side lane (a lone <c>Generate</c>, one at a time, beside the batch).
/// </remarks>
public sealed class ContinuousBatchingEngine : IGenerationEngine
{
    private readonly EngineOptions _options;
    private readonly Blip2Processor _processor;
    private readonly IRowBatch? _batch;
    private readonly int _maxSequenceLength;

    private readonly object _lock = new();
    private readonly Queue<EngineJob> _waiting = new();     // for the batch
    private readonly Queue<EngineJob> _laneWaiting = new(); // beam search / sequential requests
    private readonly SemaphoreSlim _signal = new(0);
    private readonly SemaphoreSlim _laneSignal = new(0);
    private readonly Thread _loop;
    private readonly Thread _lane;
    private readonly TaskCompletionSource _loopExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _laneExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _drained;
    private volatile bool _stopping, _aborting, _exiting;
    private int _disposed;

    // The loop's own state: running requests in slot order.
    private readonly List<EngineJob> _running = [];
    private volatile int _runningRows, _laneRows;
    private int _laneBusy, _loopBusy;   // under _lock: a thread holds requests that are in no queue

    private long _completed, _failed, _cancelled, _rejected, _generatedTokens, _steps;

    public ContinuousBatchingEngine(Blip2Captioner captioner, EngineOptions? options = null)
    {
        Captioner = captioner ?? throw new ArgumentNullException(nameof(captioner));
        _options = options ?? new EngineOptions();
        if (_options.MaxBatch <= 0) throw new Blip2Exception($"EngineOptions.MaxBatch must be positive (got {_options.MaxBatch})");
        if (_options.MaxQueue < 0) throw new Blip2Exception($"EngineOptions.MaxQueue must not be negative (got {_options.MaxQueue})");
        if (_options.MaxSequenceLength is <= 0) throw new Blip2Exception($"EngineOptions.MaxSequenceLength must be positive (got {_options.MaxSequenceLength})");
        var model = captioner.Model;
        _processor = new Blip2Processor(captioner.Images, captioner.Tokenizer, checked((int)model.ModelInfo.NumQueryTokens), (int?)model.ModelInfo.ImageTokenIndex);
        var modelPositions = model.ModelInfo.MaxPositions > 0 ? (int)Math.Min(model.ModelInfo.MaxPositions, int.MaxValue) : int.MaxValue;
        _maxSequenceLength = _options.MaxSequenceLength ?? Math.Min(modelPositions, DefaultMaxSequenceLength);
        _batch = model.NewRowBatch(_options.MaxBatch, Math.Min(_maxSequenceLength, modelPositions));
        // torch's intra-op thread count is per thread (OpenMP's): the engine's threads take the creator's, so a
        // process that set it (torch.set_num_threads) runs the engine the same way. Measured on mid: with the
        // creator at 1 thread and the loop at the default 2, a lone caption took 2.4 s through the engine and 1.75 s
        // alone on the loaded 2-core machine.
        var threads = torch.get_num_threads();
        _loop = new Thread(() => { torch.set_num_threads(threads); RunLoop(); }) { IsBackground = true, Name = "blip2-engine" };
        _lane = new Thread(() => { torch.set_num_threads(threads); RunLane(); }) { IsBackground = true, Name = "blip2-engine-lane" };
        _loop.Start();
        _lane.Start();
    }

    // Rows hold this many positions unless told otherwise: a caption or a short answer needs under a hundred, and a
    // slot of mid's 8 OPT layers at 2048 positions would take 134 MB (float32), 1 GB for 8 slots.
    private const int DefaultMaxSequenceLength = 512;

    public Blip2Captioner Captioner { get; }

    /// <summary>The engine's settings.</summary>
    public EngineOptions Options => _options;

    /// <summary>Positions per row (see <see cref="EngineOptions.MaxSequenceLength"/>).</summary>
    public int MaxSequenceLength => _maxSequenceLength;

    public EngineStatistics Statistics
    {
        get
        {
            int depth;
            lock (_lock) depth = _waiting.Count + _laneWaiting.Count;
            return new EngineStatistics(depth, _options.MaxQueue, _runningRows + _laneRows, _options.MaxBatch,
                Interlocked.Read(ref _completed), Interlocked.Read(ref _failed), Interlocked.Read(ref _cancelled),
                Interlocked.Read(ref _rejected), Interlocked.Read(ref _generatedTokens), Interlocked.Read(ref _steps));
        }
    }

    public Task<EngineCompletion> GenerateAsync(EngineRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_stopping) return Reject(new EngineStoppedException());
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<EngineCompletion>(cancellationToken);
        lock (_lock)
            if (_waiting.Count + _laneWaiting.Count >= _options.MaxQueue) return Reject(new EngineQueueFullException(_options.MaxQueue));

        // A deadline is a cancellation at that moment, heard as a client that leaves is: at once while the request
        // waits (it is taken out of the queue), at the next step while it runs.
        var deadline = request.Deadline is { } at ? DeadlineSource(cancellationToken, at) : null;
        var token = deadline?.Token ?? cancellationToken;
        EngineJob job;
        try
        {
            job = Prepare(request, token, deadline);
        }
        catch (Exception e)
        {
            deadline?.Dispose();
            Interlocked.Increment(ref _failed);
            return Task.FromException<EngineCompletion>(e as Blip2Exception ?? new Blip2Exception($"the request could not be prepared: {e.Message}", e));
        }

        var lane = job.IsBeamSearch || _batch is null;
        lock (_lock)
        {
            Exception? refused = _stopping ? new EngineStoppedException()
                : _waiting.Count + _laneWaiting.Count >= _options.MaxQueue ? new EngineQueueFullException(_options.MaxQueue) : null;
            if (refused is not null)
            {
                job.Dispose();
                return Reject(refused);
            }
            (lane ? _laneWaiting : _waiting).Enqueue(job);
        }
        // Registered after queuing: a token already cancelled runs this at once. A waiting request leaves its queue
        // then and there (its task ends, whatever the loop is busy with); a running one at the loop's next step.
        job.Registration = token.Register(() => Withdraw(job, lane));
        // It may have ended (and been disposed) before the registration existed: then nothing else disposes that.
        if (job.Completion.Task.IsCompleted) job.Registration.Dispose();
        Wake(lane);
        return job.Completion.Task;
    }

    private static CancellationTokenSource DeadlineSource(CancellationToken caller, DateTimeOffset at)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(caller);
        var left = at - DateTimeOffset.UtcNow;
        if (left <= TimeSpan.Zero) source.Cancel();
        else source.CancelAfter(left < MaxTimer ? left : MaxTimer);
        return source;
    }

    // CancelAfter's longest delay (uint.MaxValue − 1 ms, 49.7 days); a later deadline is checked at every step too.
    private static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);

    /// <summary>A cancelled request that still waits leaves its queue now; one that runs leaves at the next step.</summary>
    private void Withdraw(EngineJob job, bool lane)
    {
        var waiting = false;
        lock (_lock)
        {
            var queue = lane ? _laneWaiting : _waiting;
            if (queue.Contains(job))
            {
                // At most MaxQueue entries: rebuilt without it, the others keep their order.
                var others = queue.Where(j => j != job).ToList();
                queue.Clear();
                foreach (var other in others) queue.Enqueue(other);
                waiting = true;
            }
        }
        // Outside the lock (see Admit). Here, inside the registration's own callback, disposing it does not wait.
        if (waiting) Cancel(job);
        Wake(lane);
    }

    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource drained;
        lock (_lock)
        {
            _stopping = true;
            drained = _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        Wake(lane: false);
        Wake(lane: true);
        try
        {
            await drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Out of time: what is left is cancelled at the next step.
            _aborting = true;
            Wake(lane: false);
            Wake(lane: true);
            await drained.Task.ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        _aborting = true;
        _exiting = true;
        Wake(lane: false);
        Wake(lane: true);
        await Task.WhenAll(_loopExited.Task, _laneExited.Task).ConfigureAwait(false);
        _batch?.Dispose();
        _signal.Dispose();
        _laneSignal.Dispose();
    }

    private Task<EngineCompletion> Reject(Exception error)
    {
        Interlocked.Increment(ref _rejected);
        return Task.FromException<EngineCompletion>(error);
    }

    private void Wake(bool lane)
    {
        try
        {
            (lane ? _laneSignal : _signal).Release();
        }
        catch (ObjectDisposedException)
        {
            // Disposed: nothing waits any more.
        }
    }

    /// <summary>
    /// Everything that can be checked before the request waits: the prompt, then the model's own generation prelude
    /// (<see cref="Blip2ConditionalGeneration.PrepareGeneration"/>: the captioner's and the checkpoint's defaults
    /// under the request's options, merged and validated once, resolved into the plan, the run checked against the
    /// model's positions, vocabulary and memory), so a request the engine takes is one a lone <c>Generate</c> takes
    /// and one it refuses fails with the same typed error; then the engine's own bounds, then the image.
    /// </summary>
    private EngineJob Prepare(EngineRequest request, CancellationToken cancellation, CancellationTokenSource? deadline)
    {
        if (request.Image is null) throw new Blip2Exception("the request has no image: BLIP-2 conditions every prompt on one image");
        var model = Captioner.Model;
        // The tokenizer decodes rows for stop_strings on the side lane; the batch's rows find them in their SequenceText.
        request = request with { Options = (request.Options ?? new GenerationOptions()) with { Tokenizer = Captioner.Tokenizer } };
        if (request.Options.OutputScores == true)
            throw new InvalidGenerationOptionException("output_scores", true, "the engine's sequences carry no scores: use Blip2Captioner.Generate for them");
        var ids = _processor.Prompts.BuildIds(request.Prompt).Select(id => (long)id).ToArray();
        var prepared = model.PrepareGeneration(GenerationDefaults.Merge(Captioner.Defaults, request.Options), 1, ids.Length);
        var plan = prepared.Plan;
        long[] context = model is T5ConditionalGeneration ? [prepared.Settings.DecoderStartTokenId ?? 0] : ids;
        var positions = _batch?.PromptPositions(ids) ?? 0;
        // The model's positions were checked by the prelude above; the engine's rows have their own capacity (beam
        // search runs alone on the side lane, in a cache of its own).
        if (plan.NumBeams == 1) _batch?.CheckFits(ids, plan.MaxNewTokens);
        if (plan.NumBeams == 1 && plan.NumReturnSequences > _options.MaxBatch)
            throw new InvalidGenerationOptionException("num_return_sequences", plan.NumReturnSequences,
                $"must not exceed the engine's max batch ({_options.MaxBatch} rows)");
        // Detached: the caller may run inside a dispose scope of its own; the request's pixels live until it ends.
        var pixels = _processor.Images.Preprocess(request.Image).DetachFromDisposeScope();
        return new EngineJob(request, prepared, ids, context, positions, pixels, cancellation, deadline);
    }

    // ---- the batch loop -------------------------------------------------------------------------------------------

    private void RunLoop()
    {
        Tensor? pending = null;   // next-token logits of the running rows [rows, vocab]
        try
        {
            while (true)
            {
                bool idle;
                lock (_lock)
                {
                    idle = _running.Count == 0 && _waiting.Count == 0;
                    _loopBusy = idle ? 0 : 1;
                }
                if (idle)
                {
                    CheckDrained();
                    if (_exiting) break;
                    _signal.Wait();
                    continue;
                }
                using var scope = NewDisposeScope();
                using var inference = torch.inference_mode();
                try
                {
                    if (pending is not null)
                    {
                        ChooseTokens(pending);
                        pending.Dispose();
                        pending = null;
                    }
                    Leave();
                    var stepped = _batch!.Rows > 0 ? Step() : null;
                    if (stepped is not null && _options.StepPause > TimeSpan.Zero) Thread.Sleep(_options.StepPause);
                    var admitted = Admit();
                    pending = (stepped, admitted) switch
                    {
                        (null, null) => null,
                        ({ } s, null) => s.DetachFromDisposeScope(),
                        (null, { } a) => a.DetachFromDisposeScope(),
                        ({ } s, { } a) => torch.cat(new[] { s, a }, 0).DetachFromDisposeScope(),
                    };
                }
                catch (Exception e)
                {
                    // A failing step takes its rows with it; the engine goes on with the next requests.
                    pending?.Dispose();
                    pending = null;
                    foreach (var job in _running) Fail(job, e);
                    _running.Clear();
                    _batch!.Keep([]);
                    _runningRows = 0;
                }
            }
        }
        finally
        {
            pending?.Dispose();
            foreach (var job in _running) Cancel(job);
            _running.Clear();
            _runningRows = 0;
            DropQueued(_waiting);
            _loopExited.TrySetResult();
        }
    }

    /// <summary>Each running request picks its rows' tokens from the logits; one host read for all of them.</summary>
    private void ChooseTokens(Tensor logits)
    {
        var choice = logits.argmax(-1);
        foreach (var job in _running)
        {
            if (!job.ChoosesOwnTokens) continue;
            var scores = logits.narrow(0, job.Slot, job.Copies);
            if (job.Sequences is { } ids) scores = job.Processors.Process(ids.narrow(1, 0, job.Length), scores);
            var next = job.Plan.DoSample ? Sample(scores, job.Generator) : scores.argmax(-1);
            choice.narrow(0, job.Slot, job.Copies).copy_(next);
        }
        using var host = choice.cpu();
        var tokens = host.data<long>().ToArray();
        long added = 0;
        foreach (var job in _running) added += job.Accept(tokens.AsSpan(job.Slot, job.Copies), Captioner.Tokenizer);
        Interlocked.Add(ref _generatedTokens, added);
    }

    // Hugging Face's draw: multinomial over the softmax. A seeded request has its own CPU generator (TorchSharp's
    // generators are CPU ones), so on a GPU its probabilities are drawn from on the CPU.
    private static Tensor Sample(Tensor scores, Generator? generator)
    {
        var probabilities = scores.softmax(-1);
        if (generator is null || probabilities.device.type == DeviceType.CPU)
            return multinomial(probabilities, 1, generator: generator).squeeze(1);
        return multinomial(probabilities.cpu(), 1, generator: generator).squeeze(1).to(probabilities.device);
    }

    /// <summary>Finished and cancelled requests leave; the rest move up to the front slots. The leaving requests end
    /// after the running rows are counted without them, so a caller that awaited its request reads statistics that no
    /// longer hold its rows (as the completed counter already holds it).</summary>
    private void Leave()
    {
        var kept = new List<int>();
        var staying = new List<EngineJob>();
        var leaving = new List<(EngineJob Job, EngineCompletion? Result, Exception? Error)>();
        foreach (var job in _running)
        {
            if (job.CallbackError is { } error) leaving.Add((job, null, error));
            else if (job.IsDone) leaving.Add(Finished(job));
            else if (job.IsCancelled || _aborting) leaving.Add((job, null, null));
            else
            {
                for (var r = 0; r < job.Copies; r++) kept.Add(job.Slot + r);
                staying.Add(job);
            }
        }
        if (leaving.Count == 0) return;
        try
        {
            _batch!.Keep(kept);
            _running.Clear();
            var slot = 0;
            foreach (var job in staying)
            {
                job.Slot = slot;
                slot += job.Copies;
                _running.Add(job);
            }
            _runningRows = slot;
        }
        finally
        {
            foreach (var (job, result, error) in leaving)
            {
                if (error is not null) Fail(job, error);
                else if (result is not null) Complete(job, result);
                else Cancel(job);
            }
        }
    }

    /// <summary>A finished request's completion, or its own failure when its text cannot be made.</summary>
    private (EngineJob, EngineCompletion?, Exception?) Finished(EngineJob job)
    {
        try
        {
            return (job, job.Result(Captioner.Tokenizer), null);
        }
        catch (Exception e)
        {
            return (job, null, e);
        }
    }

    private Tensor Step()
    {
        var tokens = new long[_batch!.Rows];
        foreach (var job in _running) job.NextInputs.CopyTo(tokens.AsSpan(job.Slot));
        var logits = _batch.Step(tokens);
        Interlocked.Increment(ref _steps);
        return logits;
    }

    /// <summary>Waiting requests that fit the free rows, in arrival order, encoded and prefilled together.</summary>
    private Tensor? Admit()
    {
        if (_batch!.Rows == 0) GatherArrivals();
        var joining = new List<EngineJob>();
        var left = new List<EngineJob>();
        var free = _batch!.Slots - _batch.Rows;
        lock (_lock)
        {
            while (_waiting.Count > 0)
            {
                var next = _waiting.Peek();
                if (next.IsCancelled || _aborting)
                {
                    left.Add(_waiting.Dequeue());
                    continue;
                }
                if (next.Copies > free) break;
                free -= next.Copies;
                joining.Add(_waiting.Dequeue());
            }
        }
        // Ended outside the lock: ending disposes the cancellation registration, which waits for a running callback
        // (Withdraw), which may be waiting for the lock.
        foreach (var job in left) Cancel(job);
        if (joining.Count == 0) return null;
        Tensor logits;
        try
        {
            logits = _batch.Admit([.. joining.Select(j => new RowPrompt(j.Pixels, j.PromptIds, j.Copies) { Context = j.ContextIds })]);
        }
        catch (Exception e)
        {
            foreach (var job in joining) Fail(job, e);
            return null;
        }
        var slot = _batch.Rows - joining.Sum(j => j.Copies);
        foreach (var job in joining)
        {
            job.Slot = slot;
            slot += job.Copies;
            job.Start(Captioner.Model.Device);
            _running.Add(job);
        }
        _runningRows = _batch.Rows;
        return logits;
    }

    /// <summary>
    /// With nothing running, waits a little for requests arriving together with the first (<see cref="EngineOptions.AdmissionWindow"/>):
    /// until none has arrived for one window, the waiting rows fill the free slots, the engine stops, or four windows
    /// have passed.
    /// </summary>
    private void GatherArrivals()
    {
        var window = _options.AdmissionWindow;
        if (window <= TimeSpan.Zero) return;
        var until = Stopwatch.GetTimestamp() + (long)(4 * window.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            int rows;
            lock (_lock)
            {
                if (_waiting.Count == 0 || _stopping || _aborting) return;
                rows = _waiting.Sum(j => j.Copies);
            }
            if (rows >= _batch!.Slots) return;
            var left = until - Stopwatch.GetTimestamp();
            if (left <= 0) return;
            // A release is an arrival (Wake); one left over from an arrival already counted only ends a wait early.
            if (!_signal.Wait(TimeSpan.FromSeconds(Math.Min(window.TotalSeconds, (double)left / Stopwatch.Frequency)))) return;
        }
    }

    // ---- the side lane: beam search ---------------------------------------------------------------------------------

    private void RunLane()
    {
        try
        {
            while (true)
            {
                EngineJob? job = null;
                lock (_lock)
                {
                    if (_laneWaiting.Count > 0)
                    {
                        job = _laneWaiting.Dequeue();
                        _laneBusy = 1;
                    }
                }
                if (job is null)
                {
                    CheckDrained();
                    if (_exiting) break;
                    _laneSignal.Wait();
                    continue;
                }
                try
                {
                    if (job.IsCancelled || _aborting) Cancel(job);
                    else RunAlone(job);
                }
                finally
                {
                    _laneRows = 0;
                    lock (_lock) _laneBusy = 0;
                }
            }
        }
        finally
        {
            DropQueued(_laneWaiting);
            _laneExited.TrySetResult();
        }
    }

    /// <summary>
    /// One request through the model's own run, under a token that ends it before its next decoding step, whatever
    /// the search: its caller leaving or its deadline (the request's token), the engine aborting, or — greedy and
    /// sampled requests, which stream — its rows being done (a stop sequence) or its callback failing. A beam search
    /// cancelled mid-run frees the lane after the step in flight, not at the end of its search.
    /// </summary>
    private void RunAlone(EngineJob job)
    {
        var model = Captioner.Model;
        _laneRows = job.Copies;
        job.Start(model.Device, trackIds: false);
        var streaming = !job.IsBeamSearch;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation);
        var settings = job.Prepared.Settings with
        {
            // Every search reports its steps: the engine counts them, sees the deadline past the timer's reach
            // (IsCancelled) and an abort here, and pauses as the batch does (EngineOptions.StepPause).
            OnStep = _ =>
            {
                Interlocked.Increment(ref _steps);
                if (job.IsCancelled || _aborting) stop.Cancel();
                else if (_options.StepPause > TimeSpan.Zero) Thread.Sleep(_options.StepPause);
            },
            OnTokens = streaming
                ? step =>
                {
                    Interlocked.Add(ref _generatedTokens, job.Accept(step, Captioner.Tokenizer));
                    if (job.IsDone || job.CallbackError is not null) stop.Cancel();
                }
                : job.Prepared.Settings.OnTokens,
        };
        try
        {
            using var scope = NewDisposeScope();
            var ids = torch.tensor(job.PromptIds, new long[] { 1, job.PromptIds.Length }, ScalarType.Int64);
            // The request was prepared when it arrived: the run starts at the encoding (the prelude does not run again).
            var result = model.Run(job.Prepared with { Settings = settings }, new GenerationInputs(job.Pixels, ids, torch.ones_like(ids)), stop.Token);
            if (job.CallbackError is { } error) Fail(job, error);
            else if (job.IsCancelled || _aborting) Cancel(job);
            else if (streaming) Complete(job, job.Result(Captioner.Tokenizer));
            else
            {
                Interlocked.Add(ref _generatedTokens, result.NewTokens.Sum(t => t.Length));
                var rows = result.NewTokens.Take(job.Plan.NumReturnSequences).ToArray();
                Complete(job, job.Result(rows, Captioner.Tokenizer));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            if (job.CallbackError is { } error) Fail(job, error);
            else if (streaming && job.IsDone) Complete(job, job.Result(Captioner.Tokenizer));
            else Cancel(job);
        }
        catch (Exception e)
        {
            Fail(job, e);
        }
    }

    // ---- endings ----------------------------------------------------------------------------------------------------

    private void Complete(EngineJob job, EngineCompletion completion)
    {
        job.Dispose();
        if (!job.TryEnd()) return;
        // Counted before the task ends: a caller that awaited it reads counters that include it.
        Interlocked.Increment(ref _completed);
        job.Completion.SetResult(completion);
    }

    private void Cancel(EngineJob job)
    {
        job.Dispose();
        var token = job.Cancellation.IsCancellationRequested ? job.Cancellation : new CancellationToken(true);
        if (!job.TryEnd()) return;
        Interlocked.Increment(ref _cancelled);
        job.Completion.SetCanceled(token);
    }

    private void Fail(EngineJob job, Exception error)
    {
        job.Dispose();
        var typed = error as Blip2Exception ?? new Blip2Exception($"generation failed: {error.Message}", error);
        if (!job.TryEnd()) return;
        Interlocked.Increment(ref _failed);
        job.Completion.SetException(typed);
    }

    private void DropQueued(Queue<EngineJob> queue)
    {
        List<EngineJob> dropped;
        lock (_lock)
        {
            dropped = [.. queue];
            queue.Clear();
        }
        foreach (var job in dropped) Cancel(job);   // outside the lock, as in Admit
    }

    private void CheckDrained()
    {
        lock (_lock)
        {
            if (_drained is null || _waiting.Count + _laneWaiting.Count > 0 || _laneBusy != 0 || _loopBusy != 0) return;
            _drained.TrySetResult();
        }
    }
}
