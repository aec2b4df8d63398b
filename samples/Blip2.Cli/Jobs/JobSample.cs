namespace Blip2.Cli.Jobs;

/// <summary>
/// One input of a job as its unit reads it: where it comes from (<see cref="Source"/>: the image file, tar shard or
/// Parquet table), its key there (the WebDataset key, the table's key column or row number, the file's name) and its
/// position in that source; then its image, as encoded bytes or a file to read, or <see cref="Problem"/> when the
/// source holds none for it (a tar sample with no image member, a table row whose image is null).
/// </summary>
internal sealed record JobSample(string Source, string Key, long Index, ReadOnlyMemory<byte> Bytes, string? File, string? Problem)
{
    /// <summary>The name decoding errors give the image: the file, or source/key.</summary>
    public string ImageName => File ?? $"{Source}/{Key}";

    public static JobSample Missing(string source, string key, long index, string problem) => new(source, key, index, default, null, problem);
}
