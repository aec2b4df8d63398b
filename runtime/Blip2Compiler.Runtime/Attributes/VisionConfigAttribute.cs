using System;

namespace Blip2Compiler;

/// <summary>The vision encoder (HF <c>Blip2VisionConfig</c>, keys under <c>vision_config</c>) of a <see cref="Blip2ModelAttribute"/> class.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class VisionConfigAttribute : Attribute
{
    /// <summary><c>hidden_size</c> (1408 for EVA ViT-g).</summary>
    public int HiddenSize { get; set; }

    /// <summary><c>intermediate_size</c>: width of the MLP (6144).</summary>
    public int IntermediateSize { get; set; }

    /// <summary><c>num_hidden_layers</c> (39).</summary>
    public int NumHiddenLayers { get; set; }

    /// <summary><c>num_attention_heads</c> (16).</summary>
    public int NumAttentionHeads { get; set; }

    /// <summary><c>image_size</c>: input side in pixels (224; 364 for the COCO fine-tunes).</summary>
    public int ImageSize { get; set; }

    /// <summary><c>patch_size</c> (14).</summary>
    public int PatchSize { get; set; }

    /// <summary><c>num_channels</c> (3).</summary>
    public int NumChannels { get; set; }

    /// <summary><c>hidden_act</c>: the MLP activation ("gelu").</summary>
    public string? HiddenAct { get; set; }

    /// <summary><c>layer_norm_eps</c> (1e-6).</summary>
    public double LayerNormEps { get; set; }

    /// <summary><c>qkv_bias</c>: whether the fused QKV projection has query and value biases (true).</summary>
    public bool QkvBias { get; set; }
}
