using System.Buffers.Binary;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;

namespace Blip2Compiler.Processing;

/// <summary>
/// Walks an encoded image's container structure to find truncation. ImageSharp fills missing rows with gray or black
/// and reports success; PIL raises "image file is truncated". Only the framing is checked (chunk, marker and block
/// lengths), which is a fraction of the decoding cost.
/// </summary>
internal static class TruncationCheck
{
    /// <summary>Returns a description of the truncation, or null when the structure is complete.</summary>
    public static string? Find(IImageFormat format, ReadOnlySpan<byte> data)
    {
        if (format == PngFormat.Instance) return Png(data);
        if (format == JpegFormat.Instance) return Jpeg(data);
        if (format == GifFormat.Instance) return Gif(data);
        if (format == WebpFormat.Instance) return Webp(data);
        if (format == BmpFormat.Instance) return Bmp(data);
        return null;
    }

    /// <summary>Every chunk must be complete, and the data must not stop right after an IDAT (more may have followed).</summary>
    private static string? Png(ReadOnlySpan<byte> data)
    {
        var pos = 8;
        var sawData = false;
        var lastWasData = false;
        while (pos < data.Length)
        {
            if (data.Length - pos < 12) return $"incomplete chunk header at byte {pos}";
            long length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            var type = data.Slice(pos + 4, 4);
            if (length > data.Length - pos - 12)
                return $"chunk '{System.Text.Encoding.ASCII.GetString(type)}' at byte {pos} needs {length} bytes, only {data.Length - pos - 12} remain";
            lastWasData = type.SequenceEqual("IDAT"u8);
            sawData |= lastWasData;
            if (type.SequenceEqual("IEND"u8)) return sawData ? null : "no image data (IDAT) before IEND";
            pos += 12 + (int)length;
        }
        if (!sawData) return "no image data (IDAT)";
        return lastWasData ? "data ends inside the image data (no chunk after the last IDAT)" : null;
    }

    /// <summary>Markers must chain from SOI to EOI; entropy-coded data is skipped up to the next marker.</summary>
    private static string? Jpeg(ReadOnlySpan<byte> data)
    {
        var pos = 2; // after SOI
        while (true)
        {
            // Fill bytes (FF FF ...) may precede a marker.
            while (pos < data.Length && data[pos] == 0xFF && pos + 1 < data.Length && data[pos + 1] == 0xFF) pos++;
            if (data.Length - pos < 2) return $"no end-of-image marker (data ends at byte {data.Length})";
            if (data[pos] != 0xFF)
            {
                // libjpeg skips extraneous bytes before a marker with a warning; so do we.
                var skip = data[pos..].IndexOf((byte)0xFF);
                if (skip < 0) return $"no end-of-image marker (data ends at byte {data.Length})";
                pos += skip;
                continue;
            }
            var marker = data[pos + 1];
            pos += 2;
            if (marker == 0xD9) return null; // EOI
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7)) continue; // no length
            if (data.Length - pos < 2) return $"incomplete segment 0xFF{marker:X2} at byte {pos - 2}";
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (length < 2 || length > data.Length - pos)
                return $"segment 0xFF{marker:X2} at byte {pos - 2} needs {length} bytes, only {data.Length - pos} remain";
            pos += length;
            if (marker != 0xDA) continue; // SOS: entropy-coded data follows
            while (true)
            {
                var next = data[pos..].IndexOf((byte)0xFF);
                if (next < 0 || pos + next + 1 >= data.Length)
                    return $"scan data ends without a marker (data ends at byte {data.Length})";
                pos += next;
                var b = data[pos + 1];
                if (b == 0x00 || b is >= 0xD0 and <= 0xD7 || b == 0xFF) { pos += b == 0xFF ? 1 : 2; continue; }
                break; // a real marker
            }
        }
    }

    /// <summary>The first frame's image data sub-blocks must end with their zero-length terminator.</summary>
    private static string? Gif(ReadOnlySpan<byte> data)
    {
        if (data.Length < 13) return "incomplete header";
        var pos = 13;
        var flags = data[10];
        if ((flags & 0x80) != 0) pos += 3 << ((flags & 7) + 1);
        while (true)
        {
            if (pos >= data.Length) return "no image before the end of the data";
            switch (data[pos])
            {
                case 0x21: // extension: label, then sub-blocks
                    pos += 2;
                    if (SkipSubBlocks(data, ref pos) is { } e) return e;
                    break;
                case 0x2C: // image descriptor
                    if (data.Length - pos < 10) return "incomplete image descriptor";
                    var local = data[pos + 9];
                    pos += 10;
                    if ((local & 0x80) != 0) pos += 3 << ((local & 7) + 1);
                    pos += 1; // LZW minimum code size
                    return SkipSubBlocks(data, ref pos);
                case 0x3B:
                    return "no image before the trailer";
                default:
                    return $"unknown block 0x{data[pos]:X2} at byte {pos}";
            }
        }
    }

    private static string? SkipSubBlocks(ReadOnlySpan<byte> data, ref int pos)
    {
        while (true)
        {
            if (pos >= data.Length) return $"data ends inside a block (byte {data.Length})";
            int size = data[pos];
            pos += 1 + size;
            if (size == 0) return null;
        }
    }

    /// <summary>The RIFF header states the file size.</summary>
    private static string? Webp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 12) return "incomplete RIFF header";
        long riffSize = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        return riffSize + 8 > data.Length ? $"RIFF header says {riffSize + 8} bytes, only {data.Length} present" : null;
    }

    /// <summary>Uncompressed BMPs must hold every row the header promises.</summary>
    private static string? Bmp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 30) return "incomplete header";
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(data[10..]);
        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(data[14..]);
        if (headerSize < 40 || data.Length < 34) return null; // OS/2 headers: leave to the decoder
        long width = BinaryPrimitives.ReadInt32LittleEndian(data[18..]);
        long height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data[22..]));
        int bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(data[28..]);
        var compression = BinaryPrimitives.ReadUInt32LittleEndian(data[30..]);
        if (compression is not (0 or 3 or 6)) return null; // RLE/JPEG/PNG payloads: leave to the decoder
        var stride = (width * bitsPerPixel + 31) / 32 * 4;
        var needed = offset + stride * height;
        return needed > data.Length ? $"pixel data needs {needed} bytes, only {data.Length} present" : null;
    }
}
