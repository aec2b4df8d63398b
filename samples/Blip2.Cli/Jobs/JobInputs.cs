using System.Security.Cryptography;
using System.Text;

namespace Blip2.Cli.Jobs;

/// <summary>
/// A job's input units in the job's order: the arguments and the lines of <c>--files-from</c> (in order), each a tar
/// shard (<c>.tar</c>), a Parquet table (<c>.parquet</c>: one unit per row group), an image file, or a folder (its tar
/// shards, tables and images, sorted by path). Tar shards and row groups come first in that order, then the loose images
/// in groups of <c>--part-size</c>. Every worker given the same inputs lists the same units, which is what lets each take
/// its share (<see cref="ShardSpec"/>) without talking to the others.
/// </summary>
internal sealed record JobInputs(IReadOnlyList<InputUnit> Units, int LooseFiles, int SkippedFiles)
{
    public const int DefaultPartSize = 1000;

    /// <summary>A hash of the units' ids: a rerun with other inputs into the same folder is refused (its parts would not line up).</summary>
    public string Fingerprint => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', Units.Select(u => u.Id)))))[..16];

    public static async Task<JobInputs> ExpandAsync(IReadOnlyList<string> arguments, string? imageColumn, int partSize, CancellationToken cancel)
    {
        var missing = arguments.Where(a => !Directory.Exists(a) && !File.Exists(a)).ToList();
        if (missing.Count > 0) throw ImageInputs.Missing(missing);

        var containers = new List<InputUnit>();
        var loose = new List<string>();
        int skipped = 0;
        async Task Add(string file, bool fromFolder)
        {
            if (IsTar(file)) containers.Add(new TarShardUnit(file));
            else if (IsParquet(file))
            {
                var table = await ParquetImageTable.OpenAsync(file, imageColumn, cancel).ConfigureAwait(false);
                containers.AddRange(Enumerable.Range(0, table.RowCounts.Count).Select(g => new ParquetRowGroupUnit(table, g)));
            }
            else if (!fromFolder || ImageInputs.IsImageFile(file)) loose.Add(file);   // a file named on its own is an image, whatever its name
            else skipped++;
        }
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
                foreach (var file in ImageFolder.Files(argument)) await Add(file, fromFolder: true).ConfigureAwait(false);
            else await Add(argument, fromFolder: false).ConfigureAwait(false);
        }
        var units = new List<InputUnit>(containers);
        units.AddRange(loose.Chunk(partSize).Select((files, g) => new FileGroupUnit(files, g)));
        return new JobInputs(units, loose.Count, skipped);
    }

    /// <summary><c>--files-from</c>: one input a line (blank lines skipped), from a file or <c>-</c> (stdin).</summary>
    public static IReadOnlyList<string> ReadList(string list, Func<Stream> stdin)
    {
        TextReader reader;
        if (list == StdinImage.Argument) reader = new StreamReader(stdin(), leaveOpen: true);
        else if (!File.Exists(list)) throw new InputNotFoundException([list], "the --files-from list");
        else reader = new StreamReader(list);
        using (reader)
        {
            var lines = new List<string>();
            while (reader.ReadLine() is { } line)
                if (line.Trim() is { Length: > 0 } entry) lines.Add(entry);
            return lines;
        }
    }

    private static bool IsTar(string file) => file.EndsWith(".tar", StringComparison.OrdinalIgnoreCase);
    private static bool IsParquet(string file) => file.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);
}
