using System.Formats.Tar;
using System.Text.Json.Serialization;
using Parquet;
using Parquet.Serialization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Tests.CommandLine.Jobs;

/// <summary>Real dataset files for job tests: small distinct PNGs, WebDataset tar shards as img2dataset writes them, Parquet tables.</summary>
internal static class JobDataset
{
    /// <summary>A 24×24 PNG of seeded noise: each seed a different image (and so, usually, a different caption).</summary>
    public static byte[] Png(int seed)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(24, 24);
        for (int y = 0; y < 24; y++)
            for (int x = 0; x < 24; x++)
                image[x, y] = new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    /// <summary>A tar of members (name, bytes) in order.</summary>
    public static string Tar(string path, IEnumerable<(string Name, byte[] Data)> members)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using var writer = new TarWriter(file, TarEntryFormat.Ustar);
        foreach (var (name, data) in members)
            writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        return path;
    }

    /// <summary>An img2dataset shard: <c>&lt;key&gt;.png</c>, <c>.txt</c>, <c>.json</c> per sample, keys shard*10000 + i.</summary>
    public static string WebDatasetShard(string folder, int shard, int samples, Func<int, byte[]>? image = null) =>
        Tar(Path.Combine(folder, $"{shard:D5}.tar"), Enumerable.Range(0, samples).SelectMany(i =>
        {
            var key = $"{shard:D5}{i:D4}";
            return new[]
            {
                ($"{key}.png", (image ?? (k => Png(k)))(shard * 10_000 + i)),
                ($"{key}.txt", "a caption"u8.ToArray()),
                ($"{key}.json", """{"url": "http://example.com"}"""u8.ToArray()),
            };
        }));

    public sealed class BytesRow
    {
        [JsonPropertyName("__key__")] public string Key { get; set; } = "";
        [JsonPropertyName("jpg")] public byte[]? Image { get; set; }
    }

    /// <summary>img2dataset's Parquet layout: image bytes and the source caption.</summary>
    public sealed class CaptionedRow
    {
        [JsonPropertyName("jpg")] public byte[]? Image { get; set; }
        [JsonPropertyName("caption")] public string? Caption { get; set; }
    }

    public sealed class ImageStruct
    {
        [JsonPropertyName("bytes")] public byte[]? Bytes { get; set; }
        [JsonPropertyName("path")] public string? Path { get; set; }
    }

    /// <summary>Hugging Face datasets' layout: an <c>image</c> struct column and a label.</summary>
    public sealed class StructRow
    {
        [JsonPropertyName("image")] public ImageStruct? Image { get; set; }
        [JsonPropertyName("label")] public long Label { get; set; }
    }

    public sealed class PathRow
    {
        [JsonPropertyName("path")] public string? Path { get; set; }
    }

    public static string Parquet<T>(string path, IReadOnlyList<T> rows, int rowGroupSize)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var file = File.Create(path))
        {
            for (int start = 0; start < rows.Count; start += rowGroupSize)
                ParquetSerializer.SerializeAsync(rows.Skip(start).Take(rowGroupSize), file, new ParquetOptions { Append = start > 0 }).GetAwaiter().GetResult();
        }
        return path;
    }
}
