namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// How linear weights are stored (weight-only: activations and the compute stay float32).
/// <see cref="Int8"/>: symmetric, one float32 scale per output channel (w ≈ q · s, q ∈ [−127, 127]).
/// <see cref="Int4"/>: symmetric, one float32 scale per <c>group</c> consecutive input features of a row
/// (w ≈ q · s, q ∈ [−8, 7], stored as q + 8 in a nibble), the layout of llama.cpp's Q4_0 blocks.
/// </summary>
public enum QuantizationMode
{
    None,
    Int8,
    Int4,
}
