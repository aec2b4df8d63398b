using BitMiracle.LibJpeg.Classic;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Blip2Compiler.Processing;

/// <summary>
/// JPEG to RGB with the same pixels as PIL, whose decoder is libjpeg-turbo with its defaults (accurate integer IDCT,
/// "fancy" triangle-filter chroma upsampling). LibJpeg.NET (a C# port of IJG libjpeg 9) does the entropy decoding and
/// the integer IDCT, which match libjpeg-turbo's; but libjpeg 9 upsamples chroma by scaling the IDCT instead, so the
/// components are taken raw, at their stored resolution, and upsampled and color-converted here with
/// libjpeg-turbo's own integer arithmetic (jdsample.c, jdcolor.c; IJG and BSD licenses, see THIRD-PARTY-NOTICES.md:
/// this software is based in part on the work of the Independent JPEG Group).
/// </summary>
internal static class LibjpegTurboDecoder
{
    /// <summary>The RGB image, or null when the file's color space is not one this path handles (CMYK, YCCK).</summary>
    public static Image<Rgb24>? Decode(Stream stream)
    {
        var info = new jpeg_decompress_struct(new QuietErrors());
        try
        {
            info.jpeg_stdio_src(stream);
            info.jpeg_read_header(true);
            if (info.Jpeg_color_space is not (J_COLOR_SPACE.JCS_YCbCr or J_COLOR_SPACE.JCS_GRAYSCALE or J_COLOR_SPACE.JCS_RGB)
                || info.Num_components != (info.Jpeg_color_space == J_COLOR_SPACE.JCS_GRAYSCALE ? 1 : 3))
            {
                info.jpeg_abort_decompress();
                return null;
            }
            info.Dct_method = J_DCT_METHOD.JDCT_ISLOW;
            info.Raw_data_out = true;
            info.Do_fancy_upsampling = false;   // raw components at their stored size: no IDCT scaling
            info.jpeg_start_decompress();

            int width = info.Image_width, height = info.Image_height;
            var components = info.Comp_info;
            int maxH = components.Max(c => c.H_samp_factor), maxV = info.Max_v_samp_factor;
            var planes = ReadPlanes(info, components, maxV, height);
            info.jpeg_finish_decompress();

            var full = new byte[components.Length][];
            for (var c = 0; c < components.Length; c++)
                full[c] = Upsample(planes[c], components[c], maxH, maxV, width, height);
            return ToRgb(full, info.Jpeg_color_space, width, height);
        }
        finally
        {
            info.jpeg_abort_decompress();
        }
    }

    /// <summary>Each component's samples at its stored resolution, rows of Width_in_blocks × 8.</summary>
    private static Plane[] ReadPlanes(jpeg_decompress_struct info, jpeg_component_info[] components, int maxV, int height)
    {
        var planes = new Plane[components.Length];
        var chunk = new byte[components.Length][][];
        for (var c = 0; c < components.Length; c++)
        {
            var comp = components[c];
            var stride = comp.Width_in_blocks * 8;
            var rows = (int)(((long)height * comp.V_samp_factor + maxV - 1) / maxV);
            planes[c] = new Plane(comp.Downsampled_width, rows, stride, new byte[stride * rows]);
            chunk[c] = jpeg_common_struct.AllocJpegSamples(stride, comp.V_samp_factor * 8);
        }
        var iMcuRows = (height + maxV * 8 - 1) / (maxV * 8);
        for (var row = 0; row < iMcuRows; row++)
        {
            if (info.jpeg_read_raw_data(chunk, maxV * 8) == 0)
                throw new InvalidImageContentException("JPEG data ended before the last row");
            for (var c = 0; c < components.Length; c++)
            {
                var perCall = components[c].V_samp_factor * 8;
                for (var r = 0; r < perCall; r++)
                {
                    var target = row * perCall + r;
                    if (target >= planes[c].Rows) break;
                    Buffer.BlockCopy(chunk[c][r], 0, planes[c].Samples, target * planes[c].Stride, planes[c].Stride);
                }
            }
        }
        return planes;
    }

    private sealed record Plane(int Width, int Rows, int Stride, byte[] Samples)
    {
        public byte this[int x, int y] => Samples[y * Stride + x];
    }

    /// <summary>A component brought to the image's size as libjpeg-turbo does (jdsample.c).</summary>
    private static byte[] Upsample(Plane plane, jpeg_component_info comp, int maxH, int maxV, int width, int height)
    {
        if (maxH % comp.H_samp_factor != 0 || maxV % comp.V_samp_factor != 0)
            throw new InvalidImageContentException("fractional chroma sampling, which libjpeg-turbo (and so PIL) refuses too");
        int h = maxH / comp.H_samp_factor, v = maxV / comp.V_samp_factor;
        var output = new byte[width * height];
        var fancyWide = plane.Width > 2;
        if (h == 1 && v == 1)
        {
            for (var y = 0; y < height; y++) Buffer.BlockCopy(plane.Samples, y * plane.Stride, output, y * width, width);
        }
        else if (h == 2 && v == 1 && fancyWide)
        {
            var row = new byte[plane.Width * 2];
            for (var y = 0; y < height; y++)
            {
                H2V1Fancy(plane, y, row);
                Buffer.BlockCopy(row, 0, output, y * width, width);
            }
        }
        else if (h == 1 && v == 2)
        {
            for (var y = 0; y < height; y++)
            {
                var (near, far, bias) = VerticalNeighbours(plane, y);
                for (var x = 0; x < width; x++) output[y * width + x] = (byte)((plane[x, near] * 3 + plane[x, far] + bias) >> 2);
            }
        }
        else if (h == 2 && v == 2 && fancyWide)
        {
            var row = new byte[plane.Width * 2];
            for (var y = 0; y < height; y++)
            {
                H2V2Fancy(plane, y, row);
                Buffer.BlockCopy(row, 0, output, y * width, width);
            }
        }
        else
        {
            // Other integral factors (and 2× of a component at most two samples wide): plain replication.
            for (var y = 0; y < height; y++)
                for (var x = 0; x < width; x++) output[y * width + x] = plane[x / h, y / v];
        }
        return output;
    }

    /// <summary>Output row y of a vertically doubled component: the nearer input row, the farther one (the row above for
    /// even rows, below for odd, the edge row repeated past the edges), and the rounding bias (jdsample.c).</summary>
    private static (int Near, int Far, int Bias) VerticalNeighbours(Plane plane, int y)
    {
        var near = Math.Min(y / 2, plane.Rows - 1);
        return y % 2 == 0
            ? (near, Math.Max(near - 1, 0), 1)
            : (near, Math.Min(near + 1, plane.Rows - 1), 2);
    }

    /// <summary>h2v1_fancy_upsample: ¾ of the nearer sample + ¼ of the farther, alternating rounding.</summary>
    private static void H2V1Fancy(Plane plane, int y, byte[] output)
    {
        var n = plane.Width;
        var s = plane.Samples.AsSpan(y * plane.Stride, n);
        output[0] = s[0];
        output[1] = (byte)((s[0] * 3 + s[1] + 2) >> 2);
        for (var x = 1; x < n - 1; x++)
        {
            var value = s[x] * 3;
            output[2 * x] = (byte)((value + s[x - 1] + 1) >> 2);
            output[2 * x + 1] = (byte)((value + s[x + 1] + 2) >> 2);
        }
        output[2 * n - 2] = (byte)((s[n - 1] * 3 + s[n - 2] + 1) >> 2);
        output[2 * n - 1] = s[n - 1];
    }

    /// <summary>h2v2_fancy_upsample: the same triangle filter in both directions (9/16, 3/16, 3/16, 1/16).</summary>
    private static void H2V2Fancy(Plane plane, int y, byte[] output)
    {
        var n = plane.Width;
        var (near, far, _) = VerticalNeighbours(plane, y);
        var a = plane.Samples.AsSpan(near * plane.Stride, n);
        var b = plane.Samples.AsSpan(far * plane.Stride, n);
        int last, current = a[0] * 3 + b[0], next = a[1] * 3 + b[1];
        output[0] = (byte)((current * 4 + 8) >> 4);
        output[1] = (byte)((current * 3 + next + 7) >> 4);
        last = current; current = next;
        for (var x = 1; x < n - 1; x++)
        {
            next = a[x + 1] * 3 + b[x + 1];
            output[2 * x] = (byte)((current * 3 + last + 8) >> 4);
            output[2 * x + 1] = (byte)((current * 3 + next + 7) >> 4);
            last = current; current = next;
        }
        output[2 * n - 2] = (byte)((current * 3 + last + 8) >> 4);
        output[2 * n - 1] = (byte)((current * 4 + 7) >> 4);
    }

    // jdcolor.c's ycc_rgb_convert tables: 16-bit fixed point, nearest-integer rounding.
    private const int ScaleBits = 16;
    private const int OneHalf = 1 << (ScaleBits - 1);
    private static int Fix(double x) => (int)(x * (1 << ScaleBits) + 0.5);
    private static readonly int[] CrR = Table(i => (Fix(1.40200) * (i - 128) + OneHalf) >> ScaleBits);
    private static readonly int[] CbB = Table(i => (Fix(1.77200) * (i - 128) + OneHalf) >> ScaleBits);
    private static readonly int[] CrG = Table(i => -Fix(0.71414) * (i - 128));
    private static readonly int[] CbG = Table(i => -Fix(0.34414) * (i - 128) + OneHalf);
    private static int[] Table(Func<int, int> f) => Enumerable.Range(0, 256).Select(f).ToArray();

    private static Image<Rgb24> ToRgb(byte[][] planes, J_COLOR_SPACE space, int width, int height)
    {
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                var first = planes[0].AsSpan(y * width, width);
                if (space == J_COLOR_SPACE.JCS_GRAYSCALE)
                {
                    for (var x = 0; x < width; x++) row[x] = new Rgb24(first[x], first[x], first[x]);
                    continue;
                }
                var second = planes[1].AsSpan(y * width, width);
                var third = planes[2].AsSpan(y * width, width);
                if (space == J_COLOR_SPACE.JCS_RGB)
                {
                    for (var x = 0; x < width; x++) row[x] = new Rgb24(first[x], second[x], third[x]);
                    continue;
                }
                for (var x = 0; x < width; x++)
                {
                    int luma = first[x], cb = second[x], cr = third[x];
                    row[x] = new Rgb24(
                        Clamp(luma + CrR[cr]),
                        Clamp(luma + ((CbG[cb] + CrG[cr]) >> ScaleBits)),
                        Clamp(luma + CbB[cb]));
                }
            }
        });
        return image;
    }

    private static byte Clamp(int v) => (byte)(v < 0 ? 0 : v > 255 ? 255 : v);

    /// <summary>libjpeg reports recoverable damage as warnings and decodes on, as PIL does; nothing is printed.</summary>
    private sealed class QuietErrors : jpeg_error_mgr
    {
        public override void output_message() { }
    }
}
