namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Weights in a format this library does not read: TensorFlow's <c>tf_model.h5</c>, Flax's
/// <c>flax_model.msgpack</c>, a <c>torch.save</c> file of torch &lt; 1.6 (a bare pickle, not a zip). Read are
/// safetensors and torch's zip format (<c>pytorch_model.bin</c>, with or without its index).
/// </summary>
public sealed class UnsupportedCheckpointFormatException(string file, string format)
    : Blip2Exception($"{file}: {format} weights are not read; safetensors ({Checkpoint.SingleFileName}, or shards listed by " +
        $"{Checkpoint.IndexFileName}) and torch.save's zip format ({Checkpoint.PyTorchFileName}, {Checkpoint.PyTorchIndexFileName}) are. " +
        "Convert once with transformers: Blip2ForConditionalGeneration.from_pretrained(folder).save_pretrained(folder) writes model.safetensors")
{
    /// <summary>The weights file found.</summary>
    public string File { get; } = file;

    /// <summary>Its format, e.g. <c>TensorFlow (tf_model.h5)</c>.</summary>
    public string Format { get; } = format;
}
