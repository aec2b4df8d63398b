using Blip2Compiler.Nn;
using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>
/// What every compiled model shares, whatever its root (Hugging Face's Blip2PreTrainedModel): the loaded parameters,
/// the <see cref="ModelInfo"/>, device and dtype, input checks, saving and disposal. The task bases derive from it:
/// <see cref="Blip2ModelBase"/> (vision tower + Q-Former), <see cref="VisionTower"/>, <see cref="QFormerTower"/>.
/// </summary>
public abstract class Blip2PreTrainedModel : IDisposable
{
    private readonly LoadedModel _loaded;

    protected Blip2PreTrainedModel(LoadedModel loaded, ModelInfo info)
    {
        _loaded = loaded;
        ModelInfo = info;
    }

    public ModelInfo ModelInfo { get; }
    public torch.Device Device => _loaded.Device;
    public torch.ScalarType DType => _loaded.DType;
    public string? CheckpointDirectory => _loaded.CheckpointDirectory;

    /// <summary>The checkpoint's config.json as the load read it (once; null without one).</summary>
    internal System.Text.Json.JsonElement? CheckpointConfig => _loaded.Config;

    /// <summary>The parameters loaded quantized (<see cref="Blip2LoadOptions.Quantization"/>), by name; a tied LM
    /// head's quantized copy appears under its table's name.</summary>
    public IReadOnlyList<(string Parameter, QuantizedWeight Weight)> QuantizedParameters =>
        _loaded.Parameters.Select(p => (p.Key, Weight: QuantizedWeights.Find(p.Value))).Where(p => p.Weight is not null).Select(p => (p.Key, p.Weight!)).ToList();

    /// <summary>Bytes of every parameter as held (quantized weights: packed data + scales).</summary>
    public long ParameterBytes => _loaded.Parameters.Values.Sum(t => t.NumberOfElements * t.ElementSize
        + (QuantizedWeights.Find(t)?.ScaleBytes ?? 0));

    /// <summary>True once <see cref="Dispose"/> ran: the parameters are freed, and every entry point throws
    /// <see cref="ObjectDisposedException"/> (libtorch would otherwise fail with "Tensor invalid -- empty handle").</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the model was disposed; the public entry points of
    /// the model and of everything built on it (captioner, retriever, chat client, embedding generators) call it first.</summary>
    public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <summary>A vision forward's outputs, moved out of the caller's dispose scope.</summary>
    private protected static VisionOutput Vision(Tensor last, Tensor pooled, ForwardContext ctx) =>
        new(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), Outer(ctx.HiddenStates)) { Attentions = Outer(ctx.Attentions) };

    /// <summary>A Q-Former forward's outputs, moved out of the caller's dispose scope.</summary>
    private protected static QFormerOutput QFormer(Tensor last, Tensor pooled, ForwardContext ctx) =>
        new(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope())
        {
            HiddenStates = Outer(ctx.HiddenStates), Attentions = Outer(ctx.Attentions), CrossAttentions = Outer(ctx.CrossAttentions),
        };

    private protected static IReadOnlyList<Tensor> Outer(IEnumerable<Tensor> tensors) => tensors.Select(t => t.MoveToOuterDisposeScope()).ToList();

    /// <summary>Moves an input to the model's device; pixel values take the model's dtype.</summary>
    protected Tensor Input(Tensor t)
    {
        var moved = t.device.type == Device.type && t.device.index == Device.index ? t : t.to(Device);
        return moved.is_floating_point() ? moved.to_type(DType) : moved;
    }

    /// <summary>Pixel values the vision tower can take: floating point [batch ≥ 1, 3, image_size, image_size] (any
    /// size of at least one patch with <paramref name="interpolate"/>). Returns the batch size.</summary>
    protected long CheckPixels(Tensor pixelValues, bool interpolate)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(pixelValues);
        var shape = pixelValues.shape;
        string Shape() => "[" + string.Join(", ", shape) + "]";
        var expected = interpolate ? $"[batch, 3, H, W] with H, W ≥ {ModelInfo.PatchSize}" : $"[batch, 3, {ModelInfo.ImageSize}, {ModelInfo.ImageSize}]";
        if (shape.Length != 4 || shape[0] < 1 || shape[1] != 3)
            throw new InvalidModelInputException("pixel_values", $"expected {expected}, got {Shape()}");
        if (interpolate ? shape[2] < ModelInfo.PatchSize || shape[3] < ModelInfo.PatchSize : shape[2] != ModelInfo.ImageSize || shape[3] != ModelInfo.ImageSize)
            throw new InvalidModelInputException("pixel_values", $"expected {expected}, got {Shape()}" +
                (interpolate ? "" : " (pass interpolatePosEncoding: true for other sizes)"));
        if (!pixelValues.is_floating_point())
            throw new InvalidModelInputException("pixel_values", $"expected floating-point values, got {pixelValues.dtype}");
        return shape[0];
    }

    /// <summary>
    /// Token ids [batch ≥ 1, length ≥ 1] of an integer dtype, each in [0, <paramref name="vocab"/>), and an attention
    /// mask of the same shape holding only 0 and 1 (positions are counted from it). One host read for all four bounds.
    /// </summary>
    protected void CheckTokens(Tensor inputIds, Tensor? attentionMask, long vocab, string what = "input_ids")
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(inputIds);
        var shape = inputIds.shape;
        if (shape.Length != 2 || shape[0] < 1 || shape[1] < 1)
            throw new InvalidModelInputException(what, $"expected [batch, length] with both at least 1, got [{string.Join(", ", shape)}]");
        if (inputIds.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new InvalidModelInputException(what, $"expected int64 token ids, got {inputIds.dtype}");
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(shape))
            throw new InvalidModelInputException("attention_mask", $"expected the shape of {what} [{string.Join(", ", shape)}], got [{string.Join(", ", attentionMask.shape)}]");
        if (attentionMask is not null && (attentionMask.is_floating_point() || attentionMask.is_complex()))
            throw new InvalidModelInputException("attention_mask", $"expected integer or bool values, got {attentionMask.dtype}");

        using var scope = NewDisposeScope();
        var bounds = attentionMask is null
            ? torch.stack([inputIds.min(), inputIds.max()]).to_type(ScalarType.Int64).cpu().data<long>().ToArray()
            : torch.stack([inputIds.min().to_type(ScalarType.Int64), inputIds.max().to_type(ScalarType.Int64),
                attentionMask.min().to_type(ScalarType.Int64), attentionMask.max().to_type(ScalarType.Int64)]).cpu().data<long>().ToArray();
        if (bounds[0] < 0 || vocab > 0 && bounds[1] >= vocab)
            throw new InvalidModelInputException(what, $"token ids must lie in [0, {vocab - 1}] (the vocabulary), found {(bounds[0] < 0 ? bounds[0] : bounds[1])}");
        if (bounds.Length == 4 && (bounds[2] < 0 || bounds[3] > 1))
            throw new InvalidModelInputException("attention_mask", $"must hold only 0 and 1, found {(bounds[2] < 0 ? bounds[2] : bounds[3])}");
    }

    /// <summary>
    /// Writes this model as a Hugging Face checkpoint folder: <c>model.safetensors</c> (shards of at most
    /// <paramref name="maxShardBytes"/> with <c>model.safetensors.index.json</c> beyond that, transformers' 5 GB by
    /// default) under the published key names — the keys it was loaded from, fused projections split back, load-time
    /// scales divided out — in the parameters' dtypes; quantized weights are written dequantized, as float32 (the
    /// int8/int4 forms have no Hugging Face layout). The checkpoint's config.json, generation_config.json, tokenizer
    /// and processor files are copied beside them, so the folder loads here (and in transformers) as the original
    /// did. A folder already holding safetensors weights is a <see cref="Checkpoints.CheckpointExistsException"/>.
    /// </summary>
    public void SaveCheckpoint(string folder, long maxShardBytes = Checkpoints.CheckpointSaver.DefaultMaxShardBytes)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Checkpoints.CheckpointSaver.Save(folder, _loaded.KeyMap, _loaded.Parameters, _loaded.Parameters.Report,
            CheckpointDirectory, maxShardBytes);
    }

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        _loaded.Parameters.Dispose();
        GC.SuppressFinalize(this);
    }
}
