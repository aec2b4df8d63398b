using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary>
/// One decoding step captured as a CUDA graph (through <see cref="CudaGraphShim"/>): the step's kernels replayed as
/// one launch, with no host work per op. The step must read and write static buffers only and make no host read
/// (no <c>.item()</c>, no shape that depends on the step): the replay runs what was recorded, not the C# code.
/// </summary>
internal sealed class StepGraph : IDisposable
{
    private nint _handle;

    private StepGraph(nint handle) => _handle = handle;

    /// <summary>
    /// Runs <paramref name="step"/> once eagerly on the graph's side stream (the warm-up, as torch.cuda.graph has it:
    /// its results are the step's results), then captures it. The step must be idempotent for the same inputs (it
    /// rewrites the same cache column and buffers), so the capture and a replay of it leave the same state. Throws
    /// <see cref="CudaGraphException"/> when the shim fails, or what the step threw while being captured.
    /// </summary>
    public static StepGraph Capture(Device device, Action step)
    {
        var handle = CudaGraphShim.Create(device.index < 0 ? 0 : device.index);
        try
        {
            CudaGraphShim.EnterSideStream(handle);
            try { step(); }
            finally { CudaGraphShim.LeaveSideStream(handle); }
            CudaGraphShim.CaptureBegin(handle);
            try
            {
                step();
            }
            catch (Exception e) when (e is ExternalException or Blip2Exception or InvalidOperationException)
            {
                // A host read inside the step fails the capture; end it (the stream leaves capture mode) and report
                // the step's own error.
                try { CudaGraphShim.CaptureEnd(handle); } catch (CudaGraphException) { }
                throw new CudaGraphException("capture", e.Message.Split('\n')[0]);
            }
            CudaGraphShim.CaptureEnd(handle);
            return new StepGraph(handle);
        }
        catch
        {
            CudaGraphShim.Destroy(handle);
            throw;
        }
    }

    /// <summary>Launches the captured step on the current stream.</summary>
    public void Replay() => CudaGraphShim.Replay(_handle);

    public void Dispose()
    {
        CudaGraphShim.Destroy(_handle);
        _handle = 0;
    }
}
