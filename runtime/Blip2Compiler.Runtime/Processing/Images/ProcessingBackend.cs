namespace Blip2Compiler.Processing;

/// <summary>
/// Whose arithmetic to reproduce. Both resize with PIL's antialiased separable convolution, rounding to 8 bits after
/// each pass; they differ in how the weights are quantized (about one value in a thousand moves by one level) and in
/// float32 rounding of rescale + normalize (one ulp).
/// </summary>
public enum ProcessingBackend
{
    /// <summary>
    /// Hugging Face's torchvision backend (the "fast" image processors, the default in transformers 5, which made the
    /// reference fixtures): uint8 antialiased resize with int16 weights, then normalize with mean and std pre-scaled
    /// by 1/rescale_factor. Resize filters other than bilinear and bicubic fall back to PIL's arithmetic.
    /// </summary>
    Torchvision,

    /// <summary>PIL <c>Image.resize</c> (22-bit weights), then numpy rescale and normalize: transformers 4's slow processors.</summary>
    Pil,
}
