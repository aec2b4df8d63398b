namespace Blip2Compiler.Checkpoints;

/// <summary>
/// A checkpoint folder whose weights are in a format this library does not read (yet): PyTorch's pickled
/// <c>pytorch_model.bin</c> (or its <c>*.bin</c> shards with <c>pytorch_model.bin.index.json</c>), TensorFlow's
/// <c>tf_model.h5</c>, Flax's <c>flax_model.msgpack</c>. Only safetensors is read.
/// </summary>
public sealed class UnsupportedCheckpointFormatException(string file, string format)
    : Blip2Exception($"{file}: {format} weights are not read (yet); only safetensors ({Checkpoint.SingleFileName}, or shards " +
        $"listed by {Checkpoint.IndexFileName}). Convert once with transformers: " +
        "Blip2ForConditionalGeneration.from_pretrained(folder).save_pretrained(folder) writes model.safetensors")
{
    /// <summary>The weights file found (the index, for sharded checkpoints).</summary>
    public string File { get; } = file;

    /// <summary>Its format, e.g. <c>PyTorch pickle (pytorch_model.bin)</c>.</summary>
    public string Format { get; } = format;
}
