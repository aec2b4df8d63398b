using System.Threading.Channels;
using Blip2Compiler;
using Blip2Compiler.Processing;
using TorchSharp;

namespace Blip2.Cli.Jobs;

/// <summary>One part a worker is to write: its unit, its place in the job and its file.</summary>
internal sealed record PlannedPart(int Ordinal, InputUnit Unit, string File);

/// <summary>
/// A bounded producer/consumer pipeline: one task reads the units' samples (tar members, row groups, files) and hands
/// each to <c>decodeThreads</c> workers that decode and preprocess it; the model thread (the caller's) takes the
/// prepared images in input order, runs them through the model in batches and writes each record to its part as soon as
/// its batch is done. At most <c>queue</c> samples are read ahead, so memory is bounded whatever the dataset's size,
/// and decoding overlaps the model. A sample that cannot be decoded becomes an error record; a unit that cannot be
/// read is the worker's failure (its part is not written, the next one goes on).
/// </summary>
internal sealed class JobPipeline(JobTask task, int decodeThreads, int batchSize, int queue)
{
    private sealed record Prepared(JobSample Sample, float[]? Pixels, int Height, int Width, string? Problem);

    /// <summary>A prepared sample of a part, the end of the part (no sample), or its failure.</summary>
    private sealed record Item(PlannedPart Part, Task<Prepared>? Sample, InputShardException? Failure);

    /// <summary>Called after each part is renamed into place, with its record and failure counts.</summary>
    public Action<PlannedPart, int, int>? PartWritten { get; init; }

    /// <returns>The units that could not be read.</returns>
    public IReadOnlyList<InputShardException> Run(IReadOnlyList<PlannedPart> parts, JobFolder folder, CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var channel = Channel.CreateBounded<Item>(new BoundedChannelOptions(queue) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(() => Produce(parts, channel.Writer, stop.Token), stop.Token);
        var failures = new List<InputShardException>();
        PartWriter? writer = null;
        PlannedPart? current = null;
        var pending = new List<Prepared>();
        try
        {
            while (channel.Reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult())
            {
                while (channel.Reader.TryRead(out var item))
                {
                    if (!ReferenceEquals(current, item.Part))
                    {
                        current = item.Part;
                        writer = folder.BeginPart(item.Part.File);
                    }
                    if (item.Failure is { } failure)
                    {
                        pending.Clear();
                        writer!.Dispose();   // deletes the temporary file: no part for an unreadable unit
                        failures.Add(failure);
                        (writer, current) = (null, null);
                    }
                    else if (item.Sample is null)
                    {
                        Flush(pending, writer!);
                        writer!.Commit();
                        PartWritten?.Invoke(item.Part, writer.Records, writer.Failed);
                        writer.Dispose();
                        (writer, current) = (null, null);
                    }
                    else
                    {
                        pending.Add(item.Sample.GetAwaiter().GetResult());
                        if (pending.Count(p => p.Pixels is not null) >= batchSize) Flush(pending, writer!);
                    }
                    stop.Token.ThrowIfCancellationRequested();
                }
            }
        }
        finally
        {
            writer?.Dispose();
            stop.Cancel();
            try { producer.Wait(CancellationToken.None); } catch (AggregateException) { }
        }
        // The producer's own failure (not a unit's), e.g. an interrupted run, surfaces here.
        if (producer.Exception?.InnerException is { } fault && fault is not OperationCanceledException) throw fault;
        cancel.ThrowIfCancellationRequested();
        return failures;
    }

    private async Task Produce(IReadOnlyList<PlannedPart> parts, ChannelWriter<Item> channel, CancellationToken cancel)
    {
        var decoders = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, decodeThreads).ConcurrentScheduler;
        try
        {
            foreach (var part in parts)
            {
                try
                {
                    await foreach (var sample in part.Unit.ReadAsync(task.Images.Decoder, cancel).ConfigureAwait(false))
                    {
                        var prepared = Task.Factory.StartNew(() => Prepare(sample), cancel, TaskCreationOptions.DenyChildAttach, decoders);
                        await channel.WriteAsync(new Item(part, prepared, null), cancel).ConfigureAwait(false);
                    }
                    await channel.WriteAsync(new Item(part, null, null), cancel).ConfigureAwait(false);
                }
                catch (InputShardException e)
                {
                    await channel.WriteAsync(new Item(part, null, e), cancel).ConfigureAwait(false);
                }
            }
            channel.Complete();
        }
        catch (Exception e)
        {
            channel.Complete(e);
            throw;
        }
    }

    /// <summary>Decode and preprocess on a decoding thread; what fails is the sample's problem, not the run's.</summary>
    private Prepared Prepare(JobSample sample)
    {
        if (sample.Problem is { } problem) return new Prepared(sample, null, 0, 0, problem);
        var images = task.Images;
        try
        {
            using var image = sample.File is { } file ? images.Decoder.Decode(file) : images.Decoder.Decode(sample.Bytes, sample.ImageName);
            var (height, width) = images.OutputSize(image.Height, image.Width);
            return new Prepared(sample, images.PreprocessToArray(image), height, width, null);
        }
        catch (ImageDecodeException e)
        {
            return new Prepared(sample, null, 0, 0, e.Problem);
        }
        catch (Exception e) when (e is Blip2Exception or IOException or UnauthorizedAccessException)
        {
            return new Prepared(sample, null, 0, 0, e.Message);
        }
    }

    /// <summary>The pending samples through the model (one batch per output size), their records written in input order.</summary>
    private void Flush(List<Prepared> pending, PartWriter writer)
    {
        if (pending.Count == 0) return;
        var records = new JobRecord?[pending.Count];
        foreach (var group in pending.Select((p, i) => (p, i)).Where(x => x.p.Pixels is not null).GroupBy(x => (x.p.Height, x.p.Width)))
        {
            var members = group.ToList();
            var (height, width) = group.Key;
            var plane = 3 * height * width;
            var batch = new float[members.Count * plane];
            for (int m = 0; m < members.Count; m++) members[m].p.Pixels!.CopyTo(batch, m * plane);
            using var scope = torch.NewDisposeScope();
            var pixels = torch.tensor(batch, [members.Count, 3, height, width], torch.float32);
            var results = task.Run(pixels, [.. members.Select(x => x.p.Sample)]);
            for (int m = 0; m < members.Count; m++) records[members[m].i] = results[m];
        }
        for (int i = 0; i < pending.Count; i++)
        {
            var s = pending[i].Sample;
            var record = records[i] ?? JobRecord.For(s, task.Model) with { Error = pending[i].Problem };
            writer.Write(record.ToJsonLine(), failed: record.Error is not null);
        }
        pending.Clear();
    }
}
