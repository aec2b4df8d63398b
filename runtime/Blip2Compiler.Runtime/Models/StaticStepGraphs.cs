using System.Runtime.InteropServices;
using Blip2Compiler.Generation;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>How a static decoding step (OPT's, T5's) becomes a CUDA graph, or says why it stays eager.</summary>
internal static class StaticStepGraphs
{
    // Models whose capture failed once: their later runs stay eager rather than try again (a failed capture can
    // leave its stream routed to the abandoned pool, and would fail the same way).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Blip2ConditionalGeneration, object> Failed = new();

    /// <summary>Graphs need a CUDA device, the shim, and no earlier failed capture on this model; otherwise the
    /// model's note says why, once.</summary>
    public static bool Usable(Blip2ConditionalGeneration model)
    {
        if (Failed.TryGetValue(model, out _)) return false;
        if (model.Device.type != DeviceType.CUDA)
        {
            model.NoteDecodingStep($"CUDA graphs need a CUDA device; on {model.Device.type.ToString().ToLowerInvariant()} the static step runs eagerly");
            return false;
        }
        if (CudaGraphShim.Unavailable is { } why)
        {
            model.NoteDecodingStep($"CUDA graphs not used, the static step runs eagerly: {why}");
            return false;
        }
        return true;
    }

    /// <summary>
    /// This step captured (after its eager warm-up, whose results are this step's), then replayed once and checked
    /// against the warm-up's <paramref name="logits"/>: the graph, or null when the capture failed or the replay
    /// differed — then the step has been run again eagerly (it is idempotent: its cache column and logits are right)
    /// and the model's note says why.
    /// </summary>
    public static StepGraph? CaptureOrRunEagerly(Blip2ConditionalGeneration model, Tensor logits, Action step)
    {
        StepGraph? graph = null;
        try
        {
            graph = StepGraph.Capture(model.Device, step);
            using var scope = NewDisposeScope();
            var eager = logits.clone();
            graph.Replay();
            // Within float16 rounding of the same kernels: a replay that reads a stale or moved buffer is far off.
            if (!logits.allclose(eager, rtol: 1e-3, atol: 1e-3))
                throw new CudaGraphException("replay check", "the replayed step's logits differ from the eager step's");
            model.CountReplay();
            var captured = graph;
            graph = null;
            return captured;
        }
        catch (Exception e) when (e is CudaGraphException or ExternalException)
        {
            model.NoteDecodingStep($"CUDA graphs not used, the static step runs eagerly: {e.Message.Split('\n')[0]}");
            Failed.AddOrUpdate(model, e);
            step();
            return null;
        }
        finally
        {
            graph?.Dispose();
        }
    }
}
