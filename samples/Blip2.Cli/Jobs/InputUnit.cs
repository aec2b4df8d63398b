using Blip2Compiler.Processing;

namespace Blip2.Cli.Jobs;

/// <summary>
/// A job's unit of work and of failure: a whole WebDataset tar shard, one row group of a Parquet table, or a fixed group
/// of loose image files. Each becomes one output part, written whole or not at all.
/// </summary>
/// <param name="Id">Names the unit among the job's inputs (the shard's path, the table's path and row group).</param>
/// <param name="Name">A short file-name-safe label for its part (<c>00003.tar</c>, <c>train.parquet.rg0002</c>, <c>files.0001</c>).</param>
internal abstract record InputUnit(string Id, string Name)
{
    public abstract IAsyncEnumerable<JobSample> ReadAsync(ImageDecoder decoder, CancellationToken cancel);
}

internal sealed record TarShardUnit(string File) : InputUnit(File, Path.GetFileName(File))
{
    public override IAsyncEnumerable<JobSample> ReadAsync(ImageDecoder decoder, CancellationToken cancel) =>
        WebDatasetTar.ReadAsync(File, ImageInputs.IsImageFile, decoder.Limits.MaxEncodedBytes, cancel);
}

internal sealed record ParquetRowGroupUnit(ParquetImageTable Table, int RowGroup)
    : InputUnit($"{Table.File}#row-group-{RowGroup}", $"{Path.GetFileName(Table.File)}.rg{RowGroup:D4}")
{
    public override IAsyncEnumerable<JobSample> ReadAsync(ImageDecoder decoder, CancellationToken cancel) => Table.ReadRowGroupAsync(RowGroup, cancel);
}

/// <summary>Loose image files: a run of <c>--part-size</c> files in the job's order; the key is the file name without its extension.</summary>
internal sealed record FileGroupUnit(IReadOnlyList<string> Files, int Group)
    : InputUnit($"files#{Group}:{Files[0]}..{Files[^1]}", $"files.{Group:D4}")
{
    public override async IAsyncEnumerable<JobSample> ReadAsync(ImageDecoder decoder, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        foreach (var file in Files)
        {
            cancel.ThrowIfCancellationRequested();
            yield return new JobSample(file, Path.GetFileNameWithoutExtension(file), 0, default, file, null);
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }
}
