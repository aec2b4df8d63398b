using System;

namespace Blip2Compiler;

/// <summary>The Querying Transformer (HF <c>Blip2QFormerConfig</c>, keys under <c>qformer_config</c>) of a <see cref="Blip2ModelAttribute"/> class.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class QFormerConfigAttribute : Attribute
{
    /// <summary><c>vocab_size</c>: BERT vocabulary of the text side (30522; 30523 for the retrieval checkpoints).</summary>
    public int VocabSize { get; set; }

    /// <summary><c>hidden_size</c> (768).</summary>
    public int HiddenSize { get; set; }

    /// <summary><c>num_hidden_layers</c> (12).</summary>
    public int NumHiddenLayers { get; set; }

    /// <summary><c>num_attention_heads</c> (12).</summary>
    public int NumAttentionHeads { get; set; }

    /// <summary><c>intermediate_size</c> (3072).</summary>
    public int IntermediateSize { get; set; }

    /// <summary><c>hidden_act</c> ("gelu").</summary>
    public string? HiddenAct { get; set; }

    /// <summary><c>max_position_embeddings</c> of the text side (512).</summary>
    public int MaxPositionEmbeddings { get; set; }

    /// <summary><c>layer_norm_eps</c> (1e-12).</summary>
    public double LayerNormEps { get; set; }

    /// <summary><c>pad_token_id</c> (0).</summary>
    public int PadTokenId { get; set; }

    /// <summary><c>position_embedding_type</c> ("absolute").</summary>
    public string? PositionEmbeddingType { get; set; }

    /// <summary><c>cross_attention_frequency</c>: every how many layers the queries attend to the image (2).</summary>
    public int CrossAttentionFrequency { get; set; }

    /// <summary><c>encoder_hidden_size</c>: width of the image features it attends to (the vision hidden size, 1408).</summary>
    public int EncoderHiddenSize { get; set; }

    /// <summary><c>use_qformer_text_input</c>: the Q-Former also embeds text (true for image–text retrieval).</summary>
    public bool UseQFormerTextInput { get; set; }
}
