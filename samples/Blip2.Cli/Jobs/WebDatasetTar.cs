using System.Formats.Tar;
using System.Runtime.CompilerServices;

namespace Blip2.Cli.Jobs;

/// <summary>
/// A WebDataset shard as img2dataset writes it: a tar whose consecutive members <c>&lt;key&gt;.&lt;ext&gt;</c> make one
/// sample (<c>000000001.jpg</c>, <c>000000001.txt</c>, <c>000000001.json</c>). Read streaming with the base library's
/// TarReader: one member at a time, only image members' bytes kept, so memory does not grow with the shard.
/// </summary>
internal static class WebDatasetTar
{
    /// <summary>
    /// WebDataset's split of a member name: the key is the path up to the first dot of the file name, the extension
    /// the rest, lower-cased (webdataset.tariterators.base_plus_ext).
    /// </summary>
    public static (string Key, string Extension) SplitName(string name)
    {
        var slash = name.LastIndexOf('/');
        var dot = name.IndexOf('.', slash + 1);
        return dot < 0 ? (name, "") : (name[..dot], name[(dot + 1)..].ToLowerInvariant());
    }

    /// <summary>
    /// The shard's samples in order. A sample with no image member (only .txt/.json) comes as one with a
    /// <see cref="JobSample.Problem"/>; a shard that is missing, truncated or not a tar throws <see cref="InputShardException"/>.
    /// </summary>
    /// <param name="maxImageBytes">A larger image member is not read (the sample gets a problem): a tar header may claim any size.</param>
    public static async IAsyncEnumerable<JobSample> ReadAsync(string path, Func<string, bool> isImageExtension, long maxImageBytes, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        await using var file = Open(path);
        await using var reader = new TarReader(file, leaveOpen: false);
        string? key = null, tooLarge = null;
        byte[]? image = null;
        var others = new List<string>();
        long index = 0;
        while (await NextAsync(reader, path, cancel).ConfigureAwait(false) is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            var (entryKey, extension) = SplitName(entry.Name);
            if (key is not null && entryKey != key)
            {
                yield return tooLarge is null ? Sample(path, key, index++, image, others) : JobSample.Missing(path, key, index++, tooLarge);
                (image, others, tooLarge) = (null, [], null);
            }
            key = entryKey;
            // The first image member is the sample's image (WebDataset samples hold one); the others are metadata.
            if (image is null && tooLarge is null && isImageExtension("." + extension))
            {
                if (entry.Length > maxImageBytes) tooLarge = $"member '{entry.Name}' is {entry.Length} bytes, more than the limit of {maxImageBytes} (ImageLimits.MaxEncodedBytes)";
                else image = await ReadDataAsync(entry, path, cancel).ConfigureAwait(false);
            }
            else others.Add("." + extension);
        }
        if (key is not null) yield return tooLarge is null ? Sample(path, key, index, image, others) : JobSample.Missing(path, key, index, tooLarge);
    }

    private static JobSample Sample(string path, string key, long index, byte[]? image, List<string> others) => image is not null
        ? new JobSample(path, key, index, image, null, null)
        : JobSample.Missing(path, key, index, $"sample '{key}' has no image member (its members: {(others.Count == 0 ? "none" : string.Join(", ", others))})");

    private static FileStream Open(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, useAsync: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputShardException(path, $"cannot be read: {e.Message}", e);
        }
    }

    private static async Task<TarEntry?> NextAsync(TarReader reader, string path, CancellationToken cancel)
    {
        try
        {
            // copyData: false: the member's data is read from the file stream in place, before the next member.
            return await reader.GetNextEntryAsync(copyData: false, cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or IOException or ArgumentException)
        {
            throw new InputShardException(path, $"is not a readable tar shard: {e.Message}", e);
        }
    }

    private static async Task<byte[]> ReadDataAsync(TarEntry entry, string path, CancellationToken cancel)
    {
        try
        {
            var data = new byte[entry.Length];
            if (entry.DataStream is { } stream) await stream.ReadExactlyAsync(data, cancel).ConfigureAwait(false);
            return data;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            throw new InputShardException(path, $"is truncated in member '{entry.Name}': {e.Message}", e);
        }
    }
}
