using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Blip2Compiler.Processing;

/// <summary>
/// Decodes JPEG, PNG, WebP, GIF (first frame), BMP and TIFF to 8-bit RGB the way PIL's
/// <c>Image.open(f).convert("RGB")</c> does: alpha is dropped (not composited), gray and palette images are expanded,
/// 16-bit PNGs keep their high byte (16-bit gray is clipped at 255, as PIL's I;16 → RGB does).
/// Headers are checked against <see cref="ImageLimits"/> before any pixel memory is allocated.
/// </summary>
public sealed class ImageDecoder
{
    private const string InMemory = "<bytes>";
    private readonly Configuration _configuration;

    public ImageDecoder(ImageLimits? limits = null)
    {
        Limits = limits ?? ImageLimits.Default;
        if (Limits.MaxPixels <= 0) throw new ArgumentOutOfRangeException(nameof(limits), "MaxPixels must be positive");
        _configuration = CreateConfiguration(Limits);
    }

    /// <summary>A shared decoder with <see cref="ImageLimits.Default"/>.</summary>
    public static ImageDecoder Default { get; } = new();

    public ImageLimits Limits { get; }

    /// <summary>The formats this decoder reads, by name (BMP, GIF, JPEG, PBM, PNG, TGA, TIFF, Webp): ImageSharp's own list, so error messages say what really decodes.</summary>
    public IReadOnlyList<string> Formats => [.. _configuration.ImageFormats.Select(f => f.Name).Order(StringComparer.Ordinal)];

    /// <summary>The file extensions of <see cref="Formats"/>, lower case, with the dot (".jpg", ".ppm", ...).</summary>
    public IReadOnlyList<string> FileExtensions =>
        [.. _configuration.ImageFormats.SelectMany(f => f.FileExtensions).Select(e => "." + e.ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>
    /// Rotate/flip by the EXIF orientation tag. Off by default: <c>Image.open</c> ignores it, and so do BLIP-2's model
    /// cards; transformers' <c>load_image</c> applies it.
    /// </summary>
    public bool ApplyExifOrientation { get; init; }

    /// <summary>How JPEG files are decoded: as PIL does (the default, exact), or by ImageSharp (faster).</summary>
    public JpegBackend Jpeg { get; init; } = JpegBackend.Pil;

    public Image<Rgb24> Decode(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ImageDecodeException(path, "file not found");
            if (info.Length > Limits.MaxEncodedBytes)
                throw new ImageTooLargeException(path, $"file is {info.Length} bytes, more than the limit of {Limits.MaxEncodedBytes}", 0, 0);
            // Devices, pipes and /proc files report a length of 0 and may never end (/dev/zero, which ReadAllBytes
            // read until the process ran out of memory): read those to the limit.
            if (info.Length == 0)
            {
                using var stream = File.OpenRead(path);
                bytes = ReadEncoded(stream, path);
            }
            else bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"cannot be read: {e.Message}", e);
        }
        return DecodeCore(bytes, path);
    }

    public Image<Rgb24> Decode(Stream stream, string? name = null)
    {
        name ??= "<stream>";
        return DecodeCore(ReadEncoded(stream, name), name);
    }

    /// <summary>
    /// The bytes of an encoded image read from a stream that may never end (stdin, a pipe, a device): at most one
    /// 1 MB chunk past <see cref="ImageLimits.MaxEncodedBytes"/> is read before <see cref="ImageTooLargeException"/>.
    /// Chunks are joined once at the end, where a MemoryStream would double its buffer past the limit (512 MB for 256).
    /// </summary>
    public byte[] ReadEncoded(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        name ??= "<stream>";
        var chunks = new List<byte[]>();
        long total = 0;
        try
        {
            while (true)
            {
                var chunk = new byte[1 << 20];
                int filled = 0, read;
                while (filled < chunk.Length && (read = stream.Read(chunk, filled, chunk.Length - filled)) > 0) filled += read;
                total += filled;
                if (total > Limits.MaxEncodedBytes)
                    throw new ImageTooLargeException(name, $"longer than the limit of {Limits.MaxEncodedBytes} bytes (ImageLimits.MaxEncodedBytes)", 0, 0);
                if (filled > 0) chunks.Add(filled == chunk.Length ? chunk : chunk[..filled]);
                if (filled < chunk.Length) break;
            }
        }
        catch (IOException e)
        {
            throw new ImageDecodeException(name, $"cannot be read: {e.Message}", e);
        }
        var bytes = new byte[total];
        long offset = 0;
        foreach (var c in chunks) { c.CopyTo(bytes, offset); offset += c.Length; }
        return bytes;
    }

    public Image<Rgb24> Decode(ReadOnlyMemory<byte> bytes, string? name = null)
    {
        name ??= InMemory;
        if (bytes.Length > Limits.MaxEncodedBytes)
            throw new ImageTooLargeException(name, $"{bytes.Length} bytes, more than the limit of {Limits.MaxEncodedBytes}", 0, 0);
        return DecodeCore(bytes, name);
    }

    public Image<Rgb24> Decode(byte[] bytes, string? name = null) => Decode(bytes.AsMemory(), name);

    private Image<Rgb24> DecodeCore(ReadOnlyMemory<byte> bytes, string name)
    {
        if (bytes.Length == 0) throw new ImageDecodeException(name, "empty (0 bytes)");

        var format = Image.DetectFormat(_configuration, bytes.Span)
            ?? throw new ImageDecodeException(name, $"unknown image format (first bytes {Hex(bytes.Span)}); supported: {string.Join(", ", Formats)}");

        IImageInfo info;
        try
        {
            using var header = ReadOnlyMemoryStream(bytes);
            info = Image.Identify(_configuration, header)
                ?? throw new ImageDecodeException(name, $"not a readable {format.Name} header");
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            throw new ImageDecodeException(name, $"corrupt {format.Name} header: {e.Message}", e);
        }

        CheckSize(name, format, info.Width, info.Height);
        if (format == JpegFormat.Instance && CountJpegScans(bytes.Span) is var scans && scans > Limits.MaxJpegScans)
            throw new ImageTooLargeException(name, $"JPEG has {scans} scans, more than the limit of {Limits.MaxJpegScans} (ImageLimits.MaxJpegScans)", info.Width, info.Height);
        if (TruncationCheck.Find(format, bytes.Span) is { } truncation)
            throw new ImageDecodeException(name, $"truncated {format.Name} data: {truncation}");

        try
        {
            var image = format == PngFormat.Instance && info.Metadata.GetPngMetadata().BitDepth == PngBitDepth.Bit16
                ? DecodeSixteenBitPng(bytes, info.Metadata.GetPngMetadata().ColorType)
                : (format == JpegFormat.Instance && Jpeg == JpegBackend.Pil ? DecodeJpegAsPil(bytes, info) : null)
                    ?? Image.Load<Rgb24>(_configuration, bytes.Span);
            if (ApplyExifOrientation) image.Mutate(x => x.AutoOrient());
            return image;
        }
        catch (InvalidMemoryOperationException e)
        {
            // The allocator's cap caught a decoder asking for more than the header promised.
            throw new ImageTooLargeException(name, $"decoding needs more memory than ImageLimits.MaxPixels allows: {e.Message}", info.Width, info.Height);
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            throw new ImageDecodeException(name, $"truncated or corrupt {format.Name} data: {e.Message}", e);
        }
    }

    private void CheckSize(string name, IImageFormat format, long width, long height)
    {
        if (width <= 0 || height <= 0)
            throw new ImageDecodeException(name, $"{format.Name} header claims an empty image ({width}×{height})");
        if (width * height > Limits.MaxPixels)
            throw new ImageTooLargeException(name,
                $"{format.Name} header claims {width}×{height} = {width * height} pixels, more than the limit of {Limits.MaxPixels} (ImageLimits.MaxPixels)",
                width, height);
    }

    /// <summary>Start-of-scan markers (FF DA): entropy-coded data stuffs every FF byte with 00, so each is a real one.</summary>
    private static int CountJpegScans(ReadOnlySpan<byte> data)
    {
        var scans = 0;
        for (var i = data.IndexOf((byte)0xFF); i >= 0 && i + 1 < data.Length;)
        {
            if (data[i + 1] == 0xDA) scans++;
            var next = data[(i + 1)..].IndexOf((byte)0xFF);
            i = next < 0 ? -1 : i + 1 + next;
        }
        return scans;
    }

    /// <summary>PIL's pixels for a JPEG, or null for the color spaces that path leaves to ImageSharp (CMYK, YCCK).</summary>
    /// <remarks>libjpeg's fatal errors (bad Huffman table, unsupported marker...) arrive as plain exceptions, which the
    /// caller's <see cref="IsDecodeFailure"/> turns into <see cref="ImageDecodeException"/> like any decoder's.</remarks>
    private static Image<Rgb24>? DecodeJpegAsPil(ReadOnlyMemory<byte> bytes, IImageInfo info)
    {
        using var stream = ReadOnlyMemoryStream(bytes);
        var image = LibjpegTurboDecoder.Decode(stream);
        // The EXIF profile (read with the header) goes along, for ApplyExifOrientation.
        if (image is not null) image.Metadata.ExifProfile = info.Metadata.ExifProfile?.DeepClone();
        return image;
    }

    /// <summary>PIL reads 16-bit PNG color by its high byte, but converts 16-bit gray (mode I;16) by clipping at 255.</summary>
    private Image<Rgb24> DecodeSixteenBitPng(ReadOnlyMemory<byte> bytes, PngColorType? colorType)
    {
        using var wide = Image.Load<Rgba64>(_configuration, bytes.Span);
        var image = new Image<Rgb24>(_configuration, wide.Width, wide.Height);
        var clipGray = colorType == PngColorType.Grayscale;
        for (var y = 0; y < wide.Height; y++)
        {
            var source = wide.DangerousGetPixelRowMemory(y).Span;
            var target = image.DangerousGetPixelRowMemory(y).Span;
            for (var x = 0; x < source.Length; x++)
            {
                var p = source[x];
                target[x] = clipGray
                    ? new Rgb24(Clip(p.R), Clip(p.G), Clip(p.B))
                    : new Rgb24((byte)(p.R >> 8), (byte)(p.G >> 8), (byte)(p.B >> 8));
            }
        }
        return image;

        static byte Clip(ushort v) => v > 255 ? (byte)255 : (byte)v;
    }

    /// <summary>
    /// What a decoder can throw on damaged data: its own format errors, and the plain runtime exceptions a parser hits
    /// on bytes it did not expect (ImageSharp's JPEG header reader throws NullReferenceException on some damaged files,
    /// found by DamagedImageTests). Only out-of-memory is left to the caller.
    /// </summary>
    private static bool IsDecodeFailure(Exception e) => e is not (OutOfMemoryException or OperationCanceledException or Blip2Exception);

    private static Configuration CreateConfiguration(ImageLimits limits)
    {
        var configuration = Configuration.Default.Clone();
        // Backstop for formats whose headers understate what the decoder allocates (8 bytes/pixel covers 16-bit RGBA).
        var limitMegabytes = (int)Math.Min(int.MaxValue, limits.MaxPixels * 8 / (1024 * 1024) + 64);
        configuration.MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions { AllocationLimitMegabytes = limitMegabytes });
        // PIL opens the first frame of an animation; decoding the rest would only cost memory.
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = SixLabors.ImageSharp.Metadata.FrameDecodingMode.First });
        configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = SixLabors.ImageSharp.Metadata.FrameDecodingMode.First });
        return configuration;
    }

    private static Stream ReadOnlyMemoryStream(ReadOnlyMemory<byte> bytes) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes[..Math.Min(8, bytes.Length)]);
}
