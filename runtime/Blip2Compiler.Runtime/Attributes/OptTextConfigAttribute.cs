using System;

namespace Blip2Compiler;

/// <summary>An OPT language model (HF <c>OPTConfig</c>, keys under <c>text_config</c>, <c>model_type</c> "opt") for a <see cref="Blip2ModelAttribute"/> class.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class OptTextConfigAttribute : Attribute
{
    /// <summary><c>vocab_size</c> (50272; 50304 in checkpoints that added the image token).</summary>
    public int VocabSize { get; set; }

    /// <summary><c>hidden_size</c> (2560 for OPT-2.7b, 4096 for OPT-6.7b).</summary>
    public int HiddenSize { get; set; }

    /// <summary><c>num_hidden_layers</c> (32).</summary>
    public int NumHiddenLayers { get; set; }

    /// <summary><c>num_attention_heads</c> (32).</summary>
    public int NumAttentionHeads { get; set; }

    /// <summary><c>ffn_dim</c>: width of the feed-forward layer (10240 / 16384).</summary>
    public int FfnDim { get; set; }

    /// <summary><c>max_position_embeddings</c> (2048).</summary>
    public int MaxPositionEmbeddings { get; set; }

    /// <summary><c>word_embed_proj_dim</c>: embedding width when it differs from the hidden size.</summary>
    public int WordEmbedProjDim { get; set; }

    /// <summary><c>activation_function</c> ("relu").</summary>
    public string? ActivationFunction { get; set; }

    /// <summary><c>do_layer_norm_before</c>: pre-norm layers (true).</summary>
    public bool DoLayerNormBefore { get; set; }

    /// <summary><c>_remove_final_layer_norm</c> (false).</summary>
    public bool RemoveFinalLayerNorm { get; set; }

    /// <summary><c>enable_bias</c>: linear layers have biases (true).</summary>
    public bool EnableBias { get; set; }

    /// <summary><c>layer_norm_elementwise_affine</c> (true).</summary>
    public bool LayerNormElementwiseAffine { get; set; }

    /// <summary><c>tie_word_embeddings</c>: the LM head shares the token embedding (true).</summary>
    public bool TieWordEmbeddings { get; set; }

    /// <summary><c>pad_token_id</c> (1).</summary>
    public int PadTokenId { get; set; }

    /// <summary><c>bos_token_id</c> (2).</summary>
    public int BosTokenId { get; set; }

    /// <summary><c>eos_token_id</c> (2; BLIP-2 checkpoints use 50118, "\n").</summary>
    public int EosTokenId { get; set; }
}
