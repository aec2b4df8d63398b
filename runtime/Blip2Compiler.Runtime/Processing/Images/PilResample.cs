namespace Blip2Compiler.Processing;

/// <summary>
/// Resampling filters by their PIL integer codes, the values a checkpoint's <c>preprocessor_config.json</c> stores in
/// <c>resample</c>. Nearest (0) is not supported: PIL runs it through a different code path.
/// </summary>
public enum PilResample
{
    Nearest = 0,
    Lanczos = 1,
    Bilinear = 2,
    Bicubic = 3,
    Box = 4,
    Hamming = 5,
}
