namespace Blip2Compiler;

/// <summary>A dtype the models do not run in (they run in float32, float16 or bfloat16).</summary>
public sealed class UnsupportedDTypeException : Blip2Exception
{
    public UnsupportedDTypeException(string dtype)
        : base($"dtype '{dtype}' is not supported; use float32 (fp32), float16 (fp16, half) or bfloat16 (bf16)")
    {
        DType = dtype;
    }

    public string DType { get; }
}
