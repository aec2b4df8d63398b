using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

public static partial class Ops
{
    /// <summary>
    /// Position embeddings for the patch grid: the stored table, or (interpolate_pos_encoding) its patch part
    /// resized bicubically to the image's grid, without corner alignment, as the reference.
    /// </summary>
    public static Tensor VisionPositions(Tensor table, Tensor patches, bool interpolate)
    {
        long gridH = patches.shape[2], gridW = patches.shape[3];
        long positions = gridH * gridW + 1;
        long stored = table.shape[1] - 1;
        if (!interpolate || (gridH * gridW == stored && gridH == gridW))
            return table.slice(1, 0, positions, 1).to_type(patches.dtype);
        var dim = table.shape[2];
        var side = (long)Math.Round(Math.Sqrt(stored));
        var classPos = table.slice(1, 0, 1, 1);
        var grid = table.slice(1, 1, stored + 1, 1).reshape(1, side, side, dim).permute(0, 3, 1, 2);
        grid = nn.functional.interpolate(grid, size: new[] { gridH, gridW }, mode: InterpolationMode.Bicubic, align_corners: false);
        grid = grid.permute(0, 2, 3, 1).reshape(1, gridH * gridW, dim);
        return torch.cat(new[] { classPos, grid }, 1).to_type(patches.dtype);
    }

    /// <summary>
    /// T5's relative position bias [1, heads, new, keys]: log-spaced distance buckets looked up in the table of the
    /// stack's first block. Encoder: bidirectional; decoder: only the past is visible. The keys are those attention
    /// sees: past + new, or a whole-capacity cache's capacity while decoding (the causal mask hides the unwritten).
    /// A one-position step with <see cref="ForwardContext.StepPosition"/> takes its position from there: one for all
    /// rows ([1], the static step: [1, heads, 1, keys]) or one per row ([rows], the serving engine's rows, each at its
    /// own position: [rows, heads, 1, keys]).
    /// </summary>
    public static Tensor T5PositionBias(ForwardContext ctx, Tensor table, Tensor x, bool bidirectional, long buckets, long maxDistance)
    {
        long queryLength = x.shape[1], past = ctx.PastLength, keyLength = ctx.AttendedLength(queryLength);
        var device = x.device;
        var memory = torch.arange(keyLength, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        if (ctx.StepPosition is { } position && queryLength == 1)
        {
            // On the device: no host position in the step's ops. [p, keys] distances, p = 1 or rows.
            var perRow = Lookup(table, RelativeBucket(memory - position.view(-1, 1), bidirectional, buckets, maxDistance));   // [p, k, heads]
            return perRow.permute(0, 2, 1).unsqueeze(2).to_type(ScalarType.Float32);
        }
        var context = torch.arange(past, past + queryLength, dtype: ScalarType.Int64, device: device).unsqueeze(1);
        var relative = memory - context;
        var bucket = RelativeBucket(relative, bidirectional, buckets, maxDistance);
        var values = Lookup(table, bucket);          // [q, k, heads]
        return values.permute(2, 0, 1).unsqueeze(0).to_type(ScalarType.Float32);
    }

    private static Tensor RelativeBucket(Tensor relative, bool bidirectional, long buckets, long maxDistance)
    {
        var result = torch.zeros_like(relative);
        if (bidirectional)
        {
            buckets /= 2;
            result = result + relative.gt(0).to_type(ScalarType.Int64) * buckets;
            relative = relative.abs();
        }
        else
        {
            relative = -torch.minimum(relative, torch.zeros_like(relative));
        }
        long maxExact = buckets / 2;
        var isSmall = relative.lt(maxExact);
        var large = maxExact + (torch.log(relative.to_type(ScalarType.Float32) / maxExact) / Math.Log((double)maxDistance / maxExact) * (buckets - maxExact)).to_type(ScalarType.Int64);
        large = torch.minimum(large, torch.full_like(large, buckets - 1));
        return result + torch.where(isSmall, relative, large);
    }
}
