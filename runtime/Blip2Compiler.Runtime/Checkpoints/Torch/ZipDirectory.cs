using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Blip2Compiler.Checkpoints.Torch;

/// <summary>One member of a zip archive: where its bytes start in the file, how many there are, and how they are stored.</summary>
internal sealed record ZipEntry(string Name, long DataOffset, long CompressedSize, long Size, ushort Method)
{
    public const ushort Stored = 0;
    public const ushort Deflated = 8;
}

/// <summary>
/// The central directory of a zip archive (PKWARE APPNOTE 4.3: end of central directory, its zip64 form, the central
/// file headers, each member's local header), read to know where each member's bytes lie so they can be read with
/// positioned reads from any thread. <see cref="System.IO.Compression.ZipArchive"/> reads the same directory but
/// keeps each member's offset private and reads through one shared stream; torch's archives store tensors
/// uncompressed (64-byte aligned), so a tensor is a byte range of the file. Real BLIP-2 files are 4–16 GB: zip64.
/// </summary>
internal static class ZipDirectory
{
    private const uint EndSignature = 0x06054b50;
    private const uint Zip64EndSignature = 0x06064b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const uint CentralSignature = 0x02014b50;
    private const uint LocalSignature = 0x04034b50;

    /// <summary>The end record is 22 bytes plus a comment of at most 65,535.</summary>
    private const int MaxEndSearch = 22 + ushort.MaxValue;

    public static IReadOnlyDictionary<string, ZipEntry> Read(SafeFileHandle handle, string path)
    {
        var length = RandomAccess.GetLength(handle);
        var tailLength = (int)Math.Min(length, MaxEndSearch);
        var tail = new byte[tailLength];
        ReadExactly(handle, path, tail, length - tailLength, "the end of the archive");
        var end = -1;
        for (var i = tailLength - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndSignature) { end = i; break; }
        if (end < 0)
            throw Bad(path, "no zip end-of-directory record (truncated, or not a torch.save archive)");

        long entries = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(end + 10));
        long directorySize = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 12));
        long directoryOffset = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 16));
        var endOffset = length - tailLength + end;
        if (entries == 0xFFFF || directorySize == 0xFFFFFFFF || directoryOffset == 0xFFFFFFFF)
            (entries, directorySize, directoryOffset) = ReadZip64End(handle, path, endOffset);
        if (directoryOffset < 0 || directorySize < 0 || directoryOffset + directorySize > endOffset)
            throw Bad(path, $"the zip directory [{directoryOffset}, {directoryOffset + directorySize}) runs past its end record at byte {endOffset} (truncated?)");
        if (directorySize > 256L << 20)
            throw Bad(path, $"the zip directory is {directorySize} bytes (over 256 MiB: corrupt)");

        var directory = new byte[directorySize];
        ReadExactly(handle, path, directory, directoryOffset, "the zip directory");
        var result = new Dictionary<string, ZipEntry>(StringComparer.Ordinal);
        var at = 0;
        for (long n = 0; n < entries; n++)
        {
            if (at + 46 > directory.Length || BinaryPrimitives.ReadUInt32LittleEndian(directory.AsSpan(at)) != CentralSignature)
                throw Bad(path, $"zip directory entry {n} of {entries} is damaged");
            var header = directory.AsSpan(at);
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
            var method = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
            var extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[30..]);
            var commentLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
            long local = BinaryPrimitives.ReadUInt32LittleEndian(header[42..]);
            if (at + 46 + nameLength + extraLength + commentLength > directory.Length)
                throw Bad(path, $"zip directory entry {n} of {entries} runs past the directory");
            var name = System.Text.Encoding.UTF8.GetString(header.Slice(46, nameLength));
            ReadZip64Extra(header.Slice(46 + nameLength, extraLength), ref size, ref compressed, ref local);
            if ((flags & 1) != 0) throw Bad(path, $"'{name}' is encrypted");
            var dataOffset = LocalDataOffset(handle, path, name, local);
            if (dataOffset + compressed > directoryOffset || compressed < 0 || size < 0)
                throw Bad(path, $"'{name}' [{dataOffset}, {dataOffset + compressed}) runs into the zip directory at byte {directoryOffset} (corrupt)");
            if (!result.TryAdd(name, new ZipEntry(name, dataOffset, compressed, size, method)))
                throw Bad(path, $"'{name}' appears twice in the zip directory");
            at += 46 + nameLength + extraLength + commentLength;
        }
        return result;
    }

    private static (long Entries, long Size, long Offset) ReadZip64End(SafeFileHandle handle, string path, long endOffset)
    {
        if (endOffset < 20) throw Bad(path, "zip64 archive without its zip64 locator (truncated?)");
        var locator = new byte[20];
        ReadExactly(handle, path, locator, endOffset - 20, "the zip64 locator");
        if (BinaryPrimitives.ReadUInt32LittleEndian(locator) != Zip64LocatorSignature)
            throw Bad(path, "zip64 archive without its zip64 locator (corrupt)");
        var recordOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(locator.AsSpan(8));
        if (recordOffset < 0 || recordOffset + 56 > endOffset) throw Bad(path, $"zip64 end record at byte {recordOffset} lies outside the archive");
        var record = new byte[56];
        ReadExactly(handle, path, record, recordOffset, "the zip64 end record");
        if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature)
            throw Bad(path, $"no zip64 end record at byte {recordOffset} (corrupt)");
        return ((long)BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(32)),
            (long)BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(40)),
            (long)BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(48)));
    }

    /// <summary>The zip64 extra field (id 1) holds, in this order, each of the three values whose 32-bit field is all ones.</summary>
    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref long size, ref long compressed, ref long local)
    {
        while (extra.Length >= 4)
        {
            var id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            var length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            var body = extra.Slice(4, Math.Min(length, extra.Length - 4));
            if (id == 1)
            {
                if (size == 0xFFFFFFFF && body.Length >= 8) { size = (long)BinaryPrimitives.ReadUInt64LittleEndian(body); body = body[8..]; }
                if (compressed == 0xFFFFFFFF && body.Length >= 8) { compressed = (long)BinaryPrimitives.ReadUInt64LittleEndian(body); body = body[8..]; }
                if (local == 0xFFFFFFFF && body.Length >= 8) local = (long)BinaryPrimitives.ReadUInt64LittleEndian(body);
                return;
            }
            extra = extra[Math.Min(extra.Length, 4 + length)..];
        }
    }

    /// <summary>A member's bytes follow its local header, whose name and extra field (torch pads it to align the data
    /// to 64 bytes) may differ in length from the directory's.</summary>
    private static long LocalDataOffset(SafeFileHandle handle, string path, string name, long local)
    {
        var header = new byte[30];
        if (local < 0) throw Bad(path, $"'{name}' has a negative local header offset");
        ReadExactly(handle, path, header, local, $"the local header of '{name}'");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != LocalSignature)
            throw Bad(path, $"no local header for '{name}' at byte {local} (corrupt)");
        return local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(26)) + BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(28));
    }

    internal static void ReadExactly(SafeFileHandle handle, string path, Span<byte> destination, long position, string what)
    {
        while (!destination.IsEmpty)
        {
            int read;
            try { read = RandomAccess.Read(handle, destination, position); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointFormatException(path, $"{what} cannot be read at byte {position}: {e.Message}", e);
            }
            if (read == 0) throw Bad(path, $"the file ends at byte {position}, inside {what} (truncated?)");
            destination = destination[read..];
            position += read;
        }
    }

    private static CheckpointFormatException Bad(string path, string problem) => new(path, problem);
}
