using System.Formats.Tar;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Blip2.Cli.Jobs;

/// <summary>
/// A WebDataset shard as img2dataset writes it: a tar whose consecutive members <c>&lt;key&gt;.&lt;ext&gt;</c> make one
/// sample (<c>000000001.jpg</c>, <c>000000001.txt</c>, <c>000000001.json</c>). Read streaming with the base library's
/// TarReader: one member at a time, only a sample's image and its small .txt/.json members kept, so memory does not grow with the shard.
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

    /// <summary>A <c>.txt</c> or <c>.json</c> member larger than this is not read (the record gets a note): img2dataset's are a few hundred bytes, and a tar header may claim any size.</summary>
    public const int MaxTextMemberBytes = 1 << 20;

    /// <summary>Keys remembered per shard to find a sample whose members are not adjacent; past this many, no longer
    /// looked for: 20 times img2dataset's 10,000 samples a shard, at most ~50 MB of keys even at 100-character names.</summary>
    private const int MaxTrackedKeys = 200_000;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The shard's samples in order, each with its image and, when the sample has them, its <c>.txt</c> member's text
    /// (img2dataset's source caption) and its <c>.json</c> member (img2dataset's url, width, height, ...). A sample with
    /// no image member (only .txt/.json) comes as one with a <see cref="JobSample.Problem"/>; a .txt that is not UTF-8
    /// or a .json that is not JSON is left out with a <see cref="JobSample.Note"/>. Members of a sample are grouped as
    /// WebDataset groups them: a run of adjacent members with one key. When a key comes back after other samples (its
    /// members are not adjacent), that run is a second sample with the same key, and its note says so and where the
    /// first one is. A shard that is missing, truncated or not a tar throws <see cref="InputShardException"/>.
    /// </summary>
    /// <param name="maxImageBytes">A larger image member is not read (the sample gets a problem): a tar header may claim any size.</param>
    public static async IAsyncEnumerable<JobSample> ReadAsync(string path, Func<string, bool> isImageExtension, long maxImageBytes, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        await using var file = Open(path);
        await using var reader = new TarReader(file, leaveOpen: false);
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        SampleMembers? sample = null;
        long index = 0;
        while (await NextAsync(reader, path, cancel).ConfigureAwait(false) is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            var (entryKey, extension) = SplitName(entry.Name);
            if (sample is null || entryKey != sample.Key)
            {
                if (sample is not null) yield return sample.ToSample(path);
                sample = new SampleMembers(entryKey, index++);
                if (seen.TryGetValue(entryKey, out var first))
                    sample.Notes.Add($"the members of sample '{entryKey}' are not adjacent in the tar: WebDataset makes a sample of each run of adjacent members, so this is a second sample with that key (the first is at index {first})");
                else if (seen.Count < MaxTrackedKeys) seen[entryKey] = sample.Index;
            }
            await sample.AddAsync(entry, extension, isImageExtension, maxImageBytes, path, cancel).ConfigureAwait(false);
        }
        if (sample is not null) yield return sample.ToSample(path);
    }

    /// <summary>The members of one sample as they are read: the first image, the text and metadata, what else there was.</summary>
    private sealed class SampleMembers(string key, long index)
    {
        private byte[]? _image;
        private string? _tooLarge, _text;
        private JsonElement? _metadata;
        private readonly List<string> _others = [];

        public string Key { get; } = key;
        public long Index { get; } = index;
        public List<string> Notes { get; } = [];

        public async Task AddAsync(TarEntry entry, string extension, Func<string, bool> isImageExtension, long maxImageBytes, string path, CancellationToken cancel)
        {
            // The first image member is the sample's image (WebDataset samples hold one); the others are metadata.
            if (_image is null && _tooLarge is null && isImageExtension("." + extension))
            {
                if (entry.Length > maxImageBytes) _tooLarge = $"member '{entry.Name}' is {entry.Length} bytes, more than the limit of {maxImageBytes} (ImageLimits.MaxEncodedBytes)";
                else _image = await ReadDataAsync(entry, path, cancel).ConfigureAwait(false);
                return;
            }
            _others.Add("." + extension);
            if (extension is not ("txt" or "json")) return;
            if (extension == "txt" ? _text is not null : _metadata is not null)
            {
                Notes.Add($"member '{entry.Name}' is a second .{extension} member of its sample: left out");
                return;
            }
            if (entry.Length > MaxTextMemberBytes)
            {
                Notes.Add($"member '{entry.Name}' is {entry.Length} bytes, more than the {MaxTextMemberBytes} a .{extension} member may have: left out");
                return;
            }
            var data = await ReadDataAsync(entry, path, cancel).ConfigureAwait(false);
            if (extension == "txt")
            {
                try { _text = StrictUtf8.GetString(data); }
                catch (DecoderFallbackException) { Notes.Add($"member '{entry.Name}' is not UTF-8 text: left out"); }
                return;
            }
            try
            {
                using var json = JsonDocument.Parse(data);
                _metadata = json.RootElement.Clone();
            }
            catch (JsonException e) { Notes.Add($"member '{entry.Name}' is not JSON ({e.Message}): left out"); }
        }

        public JobSample ToSample(string path)
        {
            var problem = _tooLarge ?? (_image is null ? $"sample '{Key}' has no image member (its members: {(_others.Count == 0 ? "none" : string.Join(", ", _others))})" : null);
            return new JobSample(path, Key, Index, _image ?? default(ReadOnlyMemory<byte>), null, problem)
            {
                Text = _text, Metadata = _metadata, Note = Notes.Count == 0 ? null : string.Join("; ", Notes),
            };
        }
    }

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
