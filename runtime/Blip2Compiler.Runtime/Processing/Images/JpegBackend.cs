namespace Blip2Compiler.Processing;

/// <summary>Which decoder turns JPEG files into pixels (<see cref="ImageDecoder.Jpeg"/>).</summary>
public enum JpegBackend
{
    /// <summary>
    /// The pixels PIL decodes (libjpeg-turbo's accurate integer IDCT and triangle-filter chroma upsampling), so
    /// preprocessing matches the reference exactly: LibJpeg.NET plus libjpeg-turbo's upsampling and color conversion
    /// (<c>LibjpegTurboDecoder</c>). CMYK and YCCK files go to ImageSharp.
    /// </summary>
    Pil,

    /// <summary>
    /// ImageSharp's own decoder: faster, but with its own IDCT and chroma upsampling, so pixels differ from PIL's by a
    /// few levels (on subsampled photos up to about 45 levels at sharp color edges).
    /// </summary>
    ImageSharp,
}
