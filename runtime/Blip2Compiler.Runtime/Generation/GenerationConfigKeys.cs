using System.Text.Json;

namespace Blip2Compiler.Generation;

/// <summary>
/// The keys of Hugging Face's <c>GenerationConfig</c> (transformers' generation/configuration_utils.py), sorted into
/// those this engine reads, those it does not implement (with Hugging Face's default, so a file that merely spells
/// out a default is not worth a note), and bookkeeping keys. Anything else is a key Hugging Face does not know.
/// </summary>
internal static class GenerationConfigKeys
{
    /// <summary>Keys <see cref="GenerationDefaults"/> reads into <see cref="GenerationOptions"/>.</summary>
    public static readonly IReadOnlySet<string> Implemented = new HashSet<string>(StringComparer.Ordinal)
    {
        "max_length", "max_new_tokens", "min_length", "min_new_tokens", "early_stopping", "stop_strings",
        "do_sample", "num_beams", "num_beam_groups", "temperature", "top_k", "top_p", "diversity_penalty",
        "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "bad_words_ids", "forced_bos_token_id",
        "forced_eos_token_id", "suppress_tokens", "begin_suppress_tokens", "num_return_sequences", "output_scores",
        "pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id",
    };

    /// <summary>Hugging Face options this engine does not implement, with their default values (JSON text).</summary>
    public static readonly IReadOnlyDictionary<string, string> NotImplemented = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["max_time"] = "null", ["typical_p"] = "1.0", ["epsilon_cutoff"] = "0.0", ["eta_cutoff"] = "0.0",
        ["min_p"] = "null", ["top_h"] = "null", ["encoder_repetition_penalty"] = "1.0", ["force_words_ids"] = "null",
        ["renormalize_logits"] = "false", ["constraints"] = "null", ["remove_invalid_values"] = "false",
        ["exponential_decay_length_penalty"] = "null", ["forced_decoder_ids"] = "null", ["sequence_bias"] = "null",
        ["token_healing"] = "false", ["guidance_scale"] = "null", ["low_memory"] = "null",
        ["watermarking_config"] = "null", ["encoder_no_repeat_ngram_size"] = "0", ["penalty_alpha"] = "null",
        ["dola_layers"] = "null", ["output_attentions"] = "false", ["output_hidden_states"] = "false",
        ["output_logits"] = "null", ["return_dict_in_generate"] = "false", ["is_assistant"] = "false",
        ["num_assistant_tokens"] = "20", ["num_assistant_tokens_schedule"] = "\"constant\"",
        ["assistant_confidence_threshold"] = "0.4", ["prompt_lookup_num_tokens"] = "null",
        ["max_matching_ngram_size"] = "null", ["assistant_early_exit"] = "null", ["assistant_lookbehind"] = "10",
        ["target_lookbehind"] = "10", ["use_cache"] = "true", ["cache_implementation"] = "null",
        ["cache_config"] = "null", ["return_legacy_cache"] = "true", ["prefill_chunk_size"] = "null",
        ["disable_compile"] = "false", ["compile_config"] = "null", ["generation_kwargs"] = "{}",
    };

    /// <summary>Bookkeeping Hugging Face writes into every file; nothing to note.</summary>
    public static readonly IReadOnlySet<string> Metadata = new HashSet<string>(StringComparer.Ordinal)
    {
        "transformers_version", "_from_model_config", "_commit_hash", "_original_object_hash",
    };

    /// <summary>One note per key of <paramref name="generationConfig"/> that this engine does not use.</summary>
    public static IEnumerable<string> Notes(JsonElement generationConfig)
    {
        foreach (var property in generationConfig.EnumerateObject())
        {
            var key = property.Name;
            if (Implemented.Contains(key) || Metadata.Contains(key)) continue;
            if (NotImplemented.TryGetValue(key, out var defaultJson))
            {
                if (!SameJson(property.Value, defaultJson))
                    yield return $"generation_config.json: `{key}` = {Short(property.Value)} is a Hugging Face option this engine does not implement; it is ignored";
            }
            else
                yield return $"generation_config.json: unknown key `{key}` (not a Hugging Face generation option); it is ignored";
        }
    }

    private static bool SameJson(JsonElement value, string defaultJson)
    {
        using var expected = JsonDocument.Parse(defaultJson);
        if (value.ValueKind == JsonValueKind.Number && expected.RootElement.ValueKind == JsonValueKind.Number)
            return value.GetDouble() == expected.RootElement.GetDouble();
        if (value.ValueKind == JsonValueKind.Object && expected.RootElement.ValueKind == JsonValueKind.Object)
            return !value.EnumerateObject().Any();
        return JsonElement.DeepEquals(value, expected.RootElement);
    }

    private static string Short(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length <= 40 ? text : text[..37] + "...";
    }
}
