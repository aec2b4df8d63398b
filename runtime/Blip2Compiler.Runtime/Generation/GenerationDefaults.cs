using System.Text.Json;
using Blip2Compiler.Checkpoints;

namespace Blip2Compiler.Generation;

/// <summary>A checkpoint's own generation defaults, and the layering of caller overrides on top of them.</summary>
public static class GenerationDefaults
{
    /// <summary>
    /// Reads <c>generation_config.json</c> and <c>config.json</c> of <paramref name="checkpointDir"/>. Values in
    /// generation_config.json win; special token ids it lacks come from config.json's <c>text_config</c>, then from
    /// config.json's top level (as Hugging Face derives a generation config from the text model's config).
    /// </summary>
    public static GenerationOptions Load(string checkpointDir) => Read(checkpointDir).Options;

    /// <summary>The same, with config.json as a load already read it (<paramref name="config"/>; null: read the file).</summary>
    internal static GenerationOptions Load(string checkpointDir, JsonElement? config) => Read(checkpointDir, config).Options;

    /// <summary>
    /// <see cref="Load(string)"/>, with a note for every generation_config.json key this engine does not use: keys Hugging
    /// Face does not know, and Hugging Face options set away from their defaults that this engine does not
    /// implement (<see cref="GenerationConfigKeys"/>). Hugging Face itself keeps unknown keys as attributes, silently.
    /// </summary>
    public static GenerationConfigFile Read(string checkpointDir) => Read(checkpointDir, config: null);

    internal static GenerationConfigFile Read(string checkpointDir, JsonElement? config)
    {
        if (!Directory.Exists(checkpointDir))
            throw new Blip2Exception($"Checkpoint folder '{checkpointDir}' does not exist.");

        var generationPath = Path.Combine(checkpointDir, "generation_config.json");
        var configPath = Path.Combine(checkpointDir, "config.json");
        var notes = new List<string>();
        GenerationOptions options;
        if (File.Exists(generationPath))
        {
            var json = ReadObject(generationPath);
            options = ReadOptions(generationPath, json);
            notes.AddRange(GenerationConfigKeys.Notes(json));
        }
        else options = new GenerationOptions();
        if (config is not { } root)
        {
            if (!File.Exists(configPath)) return new GenerationConfigFile(options, notes);
            root = ReadObject(configPath);
        }
        if (root.TryGetProperty("text_config", out var text) && text.ValueKind == JsonValueKind.Object)
            options = FillTokens(options, ReadOptions(configPath, text, tokensOnly: true));
        options = FillTokens(options, ReadOptions(configPath, root, tokensOnly: true));
        return new GenerationConfigFile(options, notes);
    }

    /// <summary>Each option of <paramref name="overrides"/> that is set replaces the one of <paramref name="defaults"/>.</summary>
    public static GenerationOptions Merge(GenerationOptions defaults, GenerationOptions? overrides)
    {
        if (overrides is null) return defaults;
        return new GenerationOptions
        {
            MaxNewTokens = overrides.MaxNewTokens ?? defaults.MaxNewTokens,
            MinNewTokens = overrides.MinNewTokens ?? defaults.MinNewTokens,
            MaxLength = overrides.MaxLength ?? defaults.MaxLength,
            MinLength = overrides.MinLength ?? defaults.MinLength,
            NumBeams = overrides.NumBeams ?? defaults.NumBeams,
            NumReturnSequences = overrides.NumReturnSequences ?? defaults.NumReturnSequences,
            LengthPenalty = overrides.LengthPenalty ?? defaults.LengthPenalty,
            EarlyStopping = overrides.EarlyStopping ?? defaults.EarlyStopping,
            DoSample = overrides.DoSample ?? defaults.DoSample,
            Temperature = overrides.Temperature ?? defaults.Temperature,
            TopK = overrides.TopK ?? defaults.TopK,
            TopP = overrides.TopP ?? defaults.TopP,
            RepetitionPenalty = overrides.RepetitionPenalty ?? defaults.RepetitionPenalty,
            NoRepeatNgramSize = overrides.NoRepeatNgramSize ?? defaults.NoRepeatNgramSize,
            EosTokenIds = overrides.EosTokenIds ?? defaults.EosTokenIds,
            PadTokenId = overrides.PadTokenId ?? defaults.PadTokenId,
            BosTokenId = overrides.BosTokenId ?? defaults.BosTokenId,
            DecoderStartTokenId = overrides.DecoderStartTokenId ?? defaults.DecoderStartTokenId,
            StopStrings = overrides.StopStrings ?? defaults.StopStrings,
            Tokenizer = overrides.Tokenizer ?? defaults.Tokenizer,
            BadWordsIds = overrides.BadWordsIds ?? defaults.BadWordsIds,
            SuppressTokens = overrides.SuppressTokens ?? defaults.SuppressTokens,
            BeginSuppressTokens = overrides.BeginSuppressTokens ?? defaults.BeginSuppressTokens,
            ForcedBosTokenId = overrides.ForcedBosTokenId ?? defaults.ForcedBosTokenId,
            ForcedEosTokenIds = overrides.ForcedEosTokenIds ?? defaults.ForcedEosTokenIds,
            NumBeamGroups = overrides.NumBeamGroups ?? defaults.NumBeamGroups,
            DiversityPenalty = overrides.DiversityPenalty ?? defaults.DiversityPenalty,
            OutputScores = overrides.OutputScores ?? defaults.OutputScores,
            Seed = overrides.Seed ?? defaults.Seed,
            OnTokens = overrides.OnTokens ?? defaults.OnTokens,
            OnStep = overrides.OnStep ?? defaults.OnStep,
        };
    }

    private static GenerationOptions FillTokens(GenerationOptions options, GenerationOptions fallback) => options with
    {
        EosTokenIds = options.EosTokenIds ?? fallback.EosTokenIds,
        PadTokenId = options.PadTokenId ?? fallback.PadTokenId,
        BosTokenId = options.BosTokenId ?? fallback.BosTokenId,
        DecoderStartTokenId = options.DecoderStartTokenId ?? fallback.DecoderStartTokenId,
    };

    private static JsonElement ReadObject(string path)
    {
        try
        {
            var root = JsonFiles.ReadRoot(path);
            if (root.ValueKind != JsonValueKind.Object)
                throw new Blip2Exception($"{path}: expected a JSON object at the top level.");
            return root;
        }
        catch (JsonException e)
        {
            throw new Blip2Exception($"{path}: not valid JSON ({e.Message}).", e);
        }
    }

    private static GenerationOptions ReadOptions(string path, JsonElement json, bool tokensOnly = false)
    {
        var reader = new Reader(path, json);
        var tokens = new GenerationOptions
        {
            EosTokenIds = reader.Ids("eos_token_id"),
            PadTokenId = reader.Long("pad_token_id"),
            BosTokenId = reader.Long("bos_token_id"),
            DecoderStartTokenId = reader.Long("decoder_start_token_id"),
        };
        if (tokensOnly) return tokens;

        // 20 is GenerationConfig's own default; Hugging Face treats it as "unset" (20 new tokens), not as a total length.
        var maxLength = reader.Int("max_length");
        return tokens with
        {
            MaxNewTokens = reader.Int("max_new_tokens"),
            MinNewTokens = reader.Int("min_new_tokens"),
            MaxLength = maxLength == 20 ? null : maxLength,
            MinLength = reader.Int("min_length"),
            NumBeams = reader.Int("num_beams"),
            NumReturnSequences = reader.Int("num_return_sequences"),
            LengthPenalty = reader.Float("length_penalty"),
            EarlyStopping = reader.EarlyStopping("early_stopping"),
            DoSample = reader.Bool("do_sample"),
            Temperature = reader.Float("temperature"),
            TopK = reader.Int("top_k"),
            TopP = reader.Float("top_p"),
            RepetitionPenalty = reader.Float("repetition_penalty"),
            NoRepeatNgramSize = reader.Int("no_repeat_ngram_size"),
            StopStrings = reader.Strings("stop_strings"),
            BadWordsIds = reader.IdLists("bad_words_ids"),
            SuppressTokens = reader.Ids("suppress_tokens"),
            BeginSuppressTokens = reader.Ids("begin_suppress_tokens"),
            ForcedBosTokenId = reader.Long("forced_bos_token_id"),
            ForcedEosTokenIds = reader.Ids("forced_eos_token_id"),
            NumBeamGroups = reader.Int("num_beam_groups"),
            DiversityPenalty = reader.Float("diversity_penalty"),
            OutputScores = reader.Bool("output_scores"),
        };
    }

    /// <summary>Typed access to optional keys; a key of the wrong type is an error naming the file and the key.</summary>
    private readonly struct Reader(string path, JsonElement json)
    {
        private JsonElement? Get(string key) =>
            json.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        private InvalidGenerationOptionException Wrong(string key, JsonElement value, string expected) =>
            new(key, value.GetRawText(), "expected " + expected, path);

        public int? Int(string key) => Get(key) is not { } v ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Wrong(key, v, "an integer");

        public long? Long(string key) => Get(key) is not { } v ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var i) ? i : throw Wrong(key, v, "an integer");

        public double? Float(string key) => Get(key) is not { } v ? null
            : v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Wrong(key, v, "a number");

        public bool? Bool(string key) => Get(key) is not { } v ? null
            : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(key, v, "true or false");

        public EarlyStopping? EarlyStopping(string key) => Get(key) is not { } v ? null : v.ValueKind switch
        {
            JsonValueKind.True => Generation.EarlyStopping.True,
            JsonValueKind.False => Generation.EarlyStopping.False,
            JsonValueKind.String when v.GetString() == "never" => Generation.EarlyStopping.Never,
            _ => throw Wrong(key, v, "true, false or \"never\""),
        };

        /// <summary>A string or a list of strings (Hugging Face's <c>Union[str, list[str]]</c>).</summary>
        public IReadOnlyList<string>? Strings(string key)
        {
            if (Get(key) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.String) return [v.GetString()!];
            if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a string or a list of strings");
            var strings = new List<string>();
            foreach (var item in v.EnumerateArray())
                strings.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Wrong(key, v, "a string or a list of strings"));
            return strings;
        }

        /// <summary>A list of lists of ids (<c>bad_words_ids</c>).</summary>
        public IReadOnlyList<IReadOnlyList<long>>? IdLists(string key)
        {
            if (Get(key) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a list of lists of integers");
            var lists = new List<IReadOnlyList<long>>();
            foreach (var item in v.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "a list of lists of integers");
                var ids = new List<long>();
                foreach (var id in item.EnumerateArray())
                    ids.Add(id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out var i) ? i : throw Wrong(key, v, "a list of lists of integers"));
                lists.Add(ids);
            }
            return lists;
        }

        public IReadOnlyList<long>? Ids(string key)
        {
            if (Get(key) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var single)) return [single];
            if (v.ValueKind != JsonValueKind.Array) throw Wrong(key, v, "an integer or a list of integers");
            var ids = new List<long>();
            foreach (var item in v.EnumerateArray())
                ids.Add(item.ValueKind == JsonValueKind.Number && item.TryGetInt64(out var id)
                    ? id : throw Wrong(key, v, "an integer or a list of integers"));
            return ids.Count == 0 ? null : ids;
        }
    }
}
