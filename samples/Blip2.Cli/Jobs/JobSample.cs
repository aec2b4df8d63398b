namespace Blip2.Cli.Jobs;

/// <summary>
/// One input of a job as its unit reads it: where it comes from (<see cref="Source"/>: the image file, tar shard or
/// Parquet table), its key there (the WebDataset key, the table's key column or row number, the file's name) and its
/// position in that source; then its image, as encoded bytes or a file to read, or <see cref="Problem"/> when the
/// source holds none for it (a tar sample with no image member, a table row whose image is null). What the source says
/// about the image comes with it into the record: <see cref="Text"/> and <see cref="Metadata"/>.
/// </summary>
internal sealed record JobSample(string Source, string Key, long Index, ReadOnlyMemory<byte> Bytes, string? File, string? Problem)
{
    /// <summary>The source's text for the image: a WebDataset sample's <c>.txt</c> member (img2dataset's source
    /// caption), a table's <c>caption</c> or <c>text</c> column.</summary>
    public string? Text { get; init; }

    /// <summary>A WebDataset sample's <c>.json</c> member (img2dataset's url, width, height, ...), as parsed JSON.</summary>
    public System.Text.Json.JsonElement? Metadata { get; init; }

    /// <summary>What the reader left out of this sample or found odd about it (a .json that is not JSON, members that
    /// are not adjacent), for its record; not a failure.</summary>
    public string? Note { get; init; }

    /// <summary>The name decoding errors give the image: the file, or source/key.</summary>
    public string ImageName => File ?? $"{Source}/{Key}";

    public static JobSample Missing(string source, string key, long index, string problem) => new(source, key, index, default, null, problem);
}
