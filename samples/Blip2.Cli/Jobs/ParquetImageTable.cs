using System.Runtime.CompilerServices;
using Parquet;
using Parquet.Schema;

namespace Blip2.Cli.Jobs;

/// <summary>How a table holds its images: encoded bytes, Hugging Face datasets' <c>Image</c> struct
/// (<c>{bytes, path}</c>: bytes when embedded, else a path), or a column of paths.</summary>
internal enum ImageColumnKind { Bytes, Struct, Path }

/// <summary>
/// A Parquet table with an image column, read with Parquet.Net one row group at a time (the job's unit of work):
/// only the image column (and a key column and a text column, when there are) of that row group is read, never the whole table.
/// Paths in the table are taken relative to the table's folder.
/// </summary>
internal sealed class ParquetImageTable
{
    /// <summary>Image columns tried in order when none is named: datasets' <c>image</c>, img2dataset-style extension columns.</summary>
    private static readonly string[] ImageColumns = ["image", "img", "jpg", "jpeg", "png", "webp"];
    private static readonly string[] PathColumns = ["path", "image_path", "file_name", "filename", "file"];
    private static readonly string[] KeyColumns = ["__key__", "key"];
    /// <summary>A string column with the source's text for the image: img2dataset's <c>caption</c>, or <c>text</c>.</summary>
    private static readonly string[] TextColumns = ["caption", "text"];

    private readonly DataField? _bytes;
    private readonly DataField? _path;
    private readonly DataField? _key;
    private readonly DataField? _text;

    private ParquetImageTable(string file, string column, ImageColumnKind kind, DataField? bytes, DataField? path, DataField? key, DataField? text, long[] rowCounts)
    {
        File = file;
        Column = column;
        Kind = kind;
        (_bytes, _path, _key, _text) = (bytes, path, key, text);
        RowCounts = rowCounts;
    }

    public string File { get; }
    public string Column { get; }
    public ImageColumnKind Kind { get; }

    /// <summary>Rows per row group.</summary>
    public IReadOnlyList<long> RowCounts { get; }

    /// <summary>Reads the footer (schema and row groups) and finds the image column: <paramref name="column"/>, or the first of the usual names.</summary>
    public static async Task<ParquetImageTable> OpenAsync(string file, string? column, CancellationToken cancel = default)
    {
        await using var reader = await OpenReaderAsync(file, cancel).ConfigureAwait(false);
        var fields = reader.Schema.Fields;
        Field? image = column is not null
            ? fields.FirstOrDefault(f => f.Name == column) ?? throw new InputShardException(file, $"has no column '{column}' (its columns: {Names(fields)})")
            : ImageColumns.Select(n => fields.FirstOrDefault(f => f.Name == n && ImageKind(f) is not null)).FirstOrDefault(f => f is not null)
              ?? PathColumns.Select(n => fields.FirstOrDefault(f => f.Name == n && ImageKind(f) == ImageColumnKind.Path)).FirstOrDefault(f => f is not null)
              ?? throw new InputShardException(file, $"has no image column (tried {string.Join(", ", ImageColumns.Concat(PathColumns))}; its columns: {Names(fields)}): give --image-column");
        var kind = ImageKind(image)
            ?? throw new InputShardException(file, $"column '{image.Name}' holds neither image bytes, a {{bytes, path}} struct nor paths ({image.SchemaType})");
        DataField? bytes = null, path = null;
        switch (kind)
        {
            case ImageColumnKind.Bytes: bytes = (DataField)image; break;
            case ImageColumnKind.Path: path = (DataField)image; break;
            default:
                var members = ((StructField)image).Fields;
                bytes = members.OfType<DataField>().FirstOrDefault(f => f.Name == "bytes");
                path = members.OfType<DataField>().FirstOrDefault(f => f.Name == "path");
                break;
        }
        var key = KeyColumns.Select(n => fields.OfType<DataField>().FirstOrDefault(f => f.Name == n && IsText(f))).FirstOrDefault(f => f is not null);
        var text = TextColumns.Select(n => fields.OfType<DataField>().FirstOrDefault(f => f.Name == n && IsText(f) && f != image)).FirstOrDefault(f => f is not null);
        var counts = Enumerable.Range(0, reader.RowGroupCount).Select(g => reader.RowGroups[g].RowCount).ToArray();
        return new ParquetImageTable(file, image.Name, kind, bytes, path, key, text, counts);
    }

    private static ImageColumnKind? ImageKind(Field field) => field switch
    {
        DataField d when IsBinary(d) => ImageColumnKind.Bytes,
        DataField d when IsText(d) => ImageColumnKind.Path,
        StructField s when s.Fields.OfType<DataField>().Any(f => (f.Name == "bytes" && IsBinary(f)) || (f.Name == "path" && IsText(f)))
            => ImageColumnKind.Struct,
        _ => null,
    };

    // Parquet.Net 6 reports binary columns as ReadOnlyMemory<byte> and UTF-8 ones as ReadOnlyMemory<char>.
    private static bool IsBinary(DataField field) => field.ClrType == typeof(byte[]) || field.ClrType == typeof(ReadOnlyMemory<byte>);
    private static bool IsText(DataField field) => field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>);

    private static string Names(IEnumerable<Field> fields) => string.Join(", ", fields.Select(f => f switch
    {
        DataField d when IsBinary(d) => $"{f.Name} (binary)",
        DataField d when IsText(d) => $"{f.Name} (string)",
        DataField d => $"{f.Name} ({d.ClrType.Name})",
        _ => $"{f.Name} ({f.SchemaType})",
    }));

    /// <summary>The string column whose values are the records' <c>text</c> (<c>caption</c> or <c>text</c>), if the table has one.</summary>
    public string? TextColumn => _text?.Name;

    /// <summary>The rows of one row group, in order; their index is the row number in the table, their text the text column's value.</summary>
    public async IAsyncEnumerable<JobSample> ReadRowGroupAsync(int rowGroup, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        var (bytes, paths, keys, texts) = await ReadColumnsAsync(rowGroup, cancel).ConfigureAwait(false);
        long first = RowCounts.Take(rowGroup).Sum();
        var folder = Path.GetDirectoryName(File) ?? "";
        for (int i = 0; i < RowCounts[rowGroup]; i++)
        {
            cancel.ThrowIfCancellationRequested();
            long row = first + i;
            var key = keys?[i] ?? row.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var sample = bytes?[i] is { } encoded ? new JobSample(File, key, row, encoded, null, null)
                : paths?[i] is { Length: > 0 } path ? new JobSample(File, key, row, default, Path.Combine(folder, path), null)
                : JobSample.Missing(File, key, row, $"row {row} has no image (column '{Column}' is null)");
            yield return texts is null ? sample : sample with { Text = texts[i] };
        }
    }

    private async Task<(byte[]?[]? Bytes, string?[]? Paths, string?[]? Keys, string?[]? Texts)> ReadColumnsAsync(int rowGroup, CancellationToken cancel)
    {
        try
        {
            await using var reader = await OpenReaderAsync(File, cancel).ConfigureAwait(false);
            using var group = reader.OpenRowGroupReader(rowGroup);
            var rows = checked((int)group.RowCount);
            // The nullable form: a null value comes back as null (the byte[] helper gave some nulls as another row's or
            // an empty value), copied out before the row group's buffers go back to their pool.
            byte[]?[]? bytes = null;
            string?[]? paths = null, keys = null, texts = null;
            if (_bytes is not null)
            {
                var values = new ReadOnlyMemory<byte>?[rows];
                await group.ReadAsync<ReadOnlyMemory<byte>>(_bytes, values.AsMemory(), null, cancel).ConfigureAwait(false);
                bytes = [.. values.Select(v => v?.ToArray())];
            }
            if (_path is not null) paths = await ReadTextAsync(group, _path, rows, cancel).ConfigureAwait(false);
            if (_key is not null) keys = await ReadTextAsync(group, _key, rows, cancel).ConfigureAwait(false);
            if (_text is not null) texts = await ReadTextAsync(group, _text, rows, cancel).ConfigureAwait(false);
            return (bytes, paths, keys, texts);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or FormatException or IndexOutOfRangeException)
        {
            throw new InputShardException($"{File} (row group {rowGroup})", $"cannot be read: {e.Message}", e);
        }
    }

    private static async Task<string?[]> ReadTextAsync(ParquetRowGroupReader group, DataField field, int rows, CancellationToken cancel)
    {
        var values = new ReadOnlyMemory<char>?[rows];
        await group.ReadAsync<ReadOnlyMemory<char>>(field, values.AsMemory(), null, cancel).ConfigureAwait(false);
        return [.. values.Select(v => v?.ToString())];
    }

    private static async Task<ParquetReader> OpenReaderAsync(string file, CancellationToken cancel)
    {
        try
        {
            return await ParquetReader.CreateAsync(file, null, cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or FormatException or IndexOutOfRangeException)
        {
            throw new InputShardException(file, $"is not a readable Parquet table: {e.Message}", e);
        }
    }
}
