using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Processing;

/// <summary>A batch of prompts as the model takes them: <c>input_ids</c> and <c>attention_mask</c>, both [batch, length].</summary>
public sealed record PromptBatch(long[,] InputIds, long[,] AttentionMask)
{
    public int BatchSize => InputIds.GetLength(0);

    public int SequenceLength => InputIds.GetLength(1);

    /// <summary>Both as int64 tensors (the caller owns and disposes them).</summary>
    public (Tensor InputIds, Tensor AttentionMask) ToTensors(Device? device = null) =>
        (torch.tensor(InputIds, ScalarType.Int64, device), torch.tensor(AttentionMask, ScalarType.Int64, device));
}
