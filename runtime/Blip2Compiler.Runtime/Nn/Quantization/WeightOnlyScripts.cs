using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// The TorchScript functions through which <see cref="LibTorchWeightOnlyMatmul"/> reaches libtorch's weight-only ops
/// (TorchSharp binds none of them), compiled once per process in-process (<c>torch.jit.compile</c>, no Python). Each
/// call is one TorchSharp call however many ops it runs. The scripts name no dtype constants (libtorch's C++ compiler
/// resolves <c>torch.*</c> ops, not Python's dtype objects): bfloat16 comes from the scale tensor's own dtype. Each op
/// has a CPU variant taking the same layout, chosen by the tensor's device, so the CPU tests run these very scripts.
/// <c>_weight_int8pack_mm</c>'s first CUDA kernel (torch 2.9) returned float32 whatever the input; the cast back to
/// the input's dtype is a no-op where it already does.
/// </summary>
internal static class WeightOnlyScripts
{
    private const string Source = """
        def int8_mm(x: Tensor, w: Tensor, scales: Tensor, bias: Optional[Tensor]) -> Tensor:
            shape = x.shape
            y = torch._weight_int8pack_mm(x.reshape(-1, shape[-1]), w, scales).to(x.dtype)
            if bias is not None:
                y = y.add_(bias)
            return y.reshape(shape[:-1] + [w.shape[0]])

        def int8_dequantized_mm(x: Tensor, w: Tensor, scales: Tensor, bias: Optional[Tensor], buffer: Tensor) -> Tensor:
            torch.mul(w, scales.unsqueeze(1), out=buffer)
            return torch.linear(x, buffer, bias)

        def int8_dequantize(w: Tensor, scales: Tensor) -> Tensor:
            return w.float() * scales.float().unsqueeze(1)

        def int4_mm(x: Tensor, packed: Tensor, group: int, scales_and_zeros: Tensor, out_features: int, bias: Optional[Tensor]) -> Tensor:
            shape = x.shape
            a = x.reshape(-1, shape[-1]).to(scales_and_zeros.dtype).contiguous()
            if a.is_cuda:
                y = torch._weight_int4pack_mm(a, packed, group, scales_and_zeros)
            else:
                y = torch._weight_int4pack_mm_for_cpu(a, packed, group, scales_and_zeros)
            y = y.to(x.dtype)
            if bias is not None:
                y = y.add_(bias)
            return y.reshape(shape[:-1] + [out_features])

        def int4_pack(nibbles: Tensor, inner_k_tiles: int) -> Tensor:
            if nibbles.is_cuda:
                return torch._convert_weight_to_int4pack(nibbles, inner_k_tiles)
            codes = torch.stack([torch.bitwise_right_shift(nibbles, 4), torch.bitwise_and(nibbles, 15)], -1)
            return torch._convert_weight_to_int4pack_for_cpu(codes.reshape(nibbles.shape[0], -1).int(), inner_k_tiles)

        def int4_dequantize(packed: Tensor, group: int, scales_and_zeros: Tensor, in_features: int) -> Tensor:
            eye = torch.eye(in_features, device=packed.device).to(scales_and_zeros.dtype)
            if packed.is_cuda:
                wt = torch._weight_int4pack_mm(eye, packed, group, scales_and_zeros)
            else:
                wt = torch._weight_int4pack_mm_for_cpu(eye, packed, group, scales_and_zeros)
            return wt.t().float().contiguous()
        """;

    private static readonly Lazy<torch.jit.CompilationUnit> Unit = new(() => torch.jit.compile(Source + "\n"), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Runs one of the functions (a compile or op failure surfaces as libtorch's exception).</summary>
    public static Tensor Invoke(string function, params object?[] arguments) => Unit.Value.invoke<Tensor>(function, arguments!);
}
