using System.Collections.Generic;

namespace Blip2Compiler.Generator.Parsing;

/// <summary>The JSON type a known configuration key must have.</summary>
internal enum ConfigValueType { Integer, Float, Bool, String, StringArray, IntegerOrIntegerArray }

/// <summary>Expected type of a known key; <see cref="Nullable"/> when Hugging Face allows <c>null</c> (None) there.</summary>
internal readonly record struct KeyType(ConfigValueType Type, bool Nullable = false);

/// <summary>
/// The keys of HF's Blip2Config, Blip2VisionConfig, Blip2QFormerConfig, OPTConfig and T5Config that the model
/// depends on, with their JSON types, so a wrong type (a string where an integer belongs) is reported on the value
/// itself (BLIP2006) instead of surfacing later as a confusing model error. Unknown keys are allowed and ignored here.
/// </summary>
internal static class KnownConfigKeys
{
    public static readonly IReadOnlyDictionary<string, KeyType> Types = Build();

    public static string Describe(ConfigValueType type) => type switch
    {
        ConfigValueType.Integer => "an integer",
        ConfigValueType.Float => "a number",
        ConfigValueType.Bool => "true or false",
        ConfigValueType.String => "a string",
        ConfigValueType.StringArray => "an array of strings",
        _ => "an integer or an array of integers",
    };

    private static Dictionary<string, KeyType> Build()
    {
        var t = new Dictionary<string, KeyType>();
        KeyType Int = new(ConfigValueType.Integer), IntOrNull = new(ConfigValueType.Integer, true);
        KeyType Num = new(ConfigValueType.Float), NumOrNull = new(ConfigValueType.Float, true);
        KeyType Bool = new(ConfigValueType.Bool), Str = new(ConfigValueType.String);

        // Blip2Config
        t["architectures"] = new KeyType(ConfigValueType.StringArray, true);
        t["model_type"] = Str;
        t["num_query_tokens"] = Int;
        t["image_text_hidden_size"] = Int;
        t["image_token_index"] = IntOrNull;
        t["image_token_id"] = IntOrNull;
        t["initializer_factor"] = Num;
        t["initializer_range"] = Num;
        t["use_decoder_only_language_model"] = Bool;
        t["tie_word_embeddings"] = Bool;

        // Blip2VisionConfig
        const string v = "vision_config.";
        foreach (var k in new[] { "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size", "patch_size", "num_channels" })
            t[v + k] = Int;
        t[v + "hidden_act"] = Str;
        t[v + "layer_norm_eps"] = Num;
        t[v + "attention_dropout"] = Num;
        t[v + "initializer_range"] = Num;
        t[v + "qkv_bias"] = Bool;
        t[v + "model_type"] = Str;

        // Blip2QFormerConfig
        const string q = "qformer_config.";
        foreach (var k in new[] { "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "max_position_embeddings", "cross_attention_frequency", "encoder_hidden_size" })
            t[q + k] = Int;
        t[q + "hidden_act"] = Str;
        t[q + "hidden_dropout_prob"] = Num;
        t[q + "attention_probs_dropout_prob"] = Num;
        t[q + "initializer_range"] = Num;
        t[q + "layer_norm_eps"] = Num;
        t[q + "pad_token_id"] = IntOrNull;
        t[q + "position_embedding_type"] = Str;
        t[q + "use_qformer_text_input"] = Bool;
        t[q + "model_type"] = Str;

        // text_config: keys common to OPTConfig and T5Config
        const string x = "text_config.";
        t[x + "model_type"] = Str;
        t[x + "vocab_size"] = Int;
        t[x + "pad_token_id"] = IntOrNull;
        t[x + "bos_token_id"] = IntOrNull;
        t[x + "eos_token_id"] = new KeyType(ConfigValueType.IntegerOrIntegerArray, true);
        t[x + "decoder_start_token_id"] = IntOrNull;
        t[x + "tie_word_embeddings"] = Bool;
        t[x + "use_cache"] = Bool;
        t[x + "is_encoder_decoder"] = Bool;

        // OPTConfig
        foreach (var k in new[] { "hidden_size", "num_hidden_layers", "ffn_dim", "max_position_embeddings", "num_attention_heads" })
            t[x + k] = Int;
        t[x + "word_embed_proj_dim"] = IntOrNull;
        t[x + "do_layer_norm_before"] = Bool;
        t[x + "_remove_final_layer_norm"] = Bool;
        t[x + "enable_bias"] = Bool;
        t[x + "layer_norm_elementwise_affine"] = Bool;
        t[x + "activation_function"] = Str;
        foreach (var k in new[] { "dropout", "attention_dropout", "activation_dropout", "layerdrop", "init_std" })
            t[x + k] = Num;

        // T5Config
        foreach (var k in new[] { "d_model", "d_kv", "d_ff", "num_layers", "num_heads", "relative_attention_num_buckets", "relative_attention_max_distance" })
            t[x + k] = Int;
        t[x + "num_decoder_layers"] = IntOrNull;
        t[x + "feed_forward_proj"] = Str;
        t[x + "dense_act_fn"] = Str;
        t[x + "is_gated_act"] = Bool;
        t[x + "dropout_rate"] = Num;
        t[x + "layer_norm_epsilon"] = Num;
        t[x + "initializer_factor"] = Num;
        t[x + "classifier_dropout"] = NumOrNull;
        return t;
    }
}
