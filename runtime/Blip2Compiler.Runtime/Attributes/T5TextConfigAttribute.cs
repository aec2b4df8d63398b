using System;

namespace Blip2Compiler;

/// <summary>A T5 / Flan-T5 encoder–decoder (HF <c>T5Config</c>, keys under <c>text_config</c>, <c>model_type</c> "t5") for a <see cref="Blip2ModelAttribute"/> class.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class T5TextConfigAttribute : Attribute
{
    /// <summary><c>vocab_size</c> (32128).</summary>
    public int VocabSize { get; set; }

    /// <summary><c>d_model</c>: hidden size (2048 for Flan-T5-XL, 4096 for XXL).</summary>
    public int DModel { get; set; }

    /// <summary><c>d_kv</c>: size of one attention head (64).</summary>
    public int DKv { get; set; }

    /// <summary><c>d_ff</c>: width of the feed-forward layer (5120 / 10240).</summary>
    public int DFf { get; set; }

    /// <summary><c>num_layers</c>: encoder layers (24).</summary>
    public int NumLayers { get; set; }

    /// <summary><c>num_decoder_layers</c> (defaults to <see cref="NumLayers"/>).</summary>
    public int NumDecoderLayers { get; set; }

    /// <summary><c>num_heads</c> (32 / 64).</summary>
    public int NumHeads { get; set; }

    /// <summary><c>relative_attention_num_buckets</c> (32).</summary>
    public int RelativeAttentionNumBuckets { get; set; }

    /// <summary><c>relative_attention_max_distance</c> (128).</summary>
    public int RelativeAttentionMaxDistance { get; set; }

    /// <summary><c>layer_norm_epsilon</c> of the RMS norms (1e-6).</summary>
    public double LayerNormEpsilon { get; set; }

    /// <summary><c>feed_forward_proj</c>: "relu" or "gated-gelu" (Flan-T5).</summary>
    public string? FeedForwardProj { get; set; }

    /// <summary><c>dense_act_fn</c>: the feed-forward activation ("gelu" in the BLIP-2 checkpoints).</summary>
    public string? DenseActFn { get; set; }

    /// <summary><c>tie_word_embeddings</c> (false for Flan-T5).</summary>
    public bool TieWordEmbeddings { get; set; }

    /// <summary><c>pad_token_id</c> (0).</summary>
    public int PadTokenId { get; set; }

    /// <summary><c>eos_token_id</c> (1).</summary>
    public int EosTokenId { get; set; }

    /// <summary><c>bos_token_id</c> (1 in the BLIP-2 checkpoints).</summary>
    public int BosTokenId { get; set; }

    /// <summary><c>decoder_start_token_id</c> (0).</summary>
    public int DecoderStartTokenId { get; set; }
}
