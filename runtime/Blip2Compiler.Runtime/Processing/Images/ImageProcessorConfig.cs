using System.Text.Json;
using Blip2Compiler.Checkpoints;

namespace Blip2Compiler.Processing;

/// <summary>
/// The options of Hugging Face's <c>BlipImageProcessor</c>, as a checkpoint stores them in
/// <c>preprocessor_config.json</c> (or under <c>image_processor</c> in <c>processor_config.json</c>).
/// The defaults are BLIP-2's: 224×224, bicubic, rescale by 1/255, OpenAI CLIP mean and std, convert to RGB.
/// </summary>
public sealed record ImageProcessorConfig
{
    public const string PreprocessorFileName = "preprocessor_config.json";
    public const string ProcessorFileName = "processor_config.json";

    public static readonly float[] ClipMean = [0.48145466f, 0.4578275f, 0.40821073f];
    public static readonly float[] ClipStd = [0.26862954f, 0.26130258f, 0.27577711f];

    public bool DoResize { get; init; } = true;

    /// <summary>Fixed output height; null when <see cref="ShortestEdge"/> is used instead.</summary>
    public int? Height { get; init; } = 224;

    /// <summary>Fixed output width; null when <see cref="ShortestEdge"/> is used instead.</summary>
    public int? Width { get; init; } = 224;

    /// <summary>Resize the shorter side to this length and keep the aspect ratio (HF <c>size.shortest_edge</c>).</summary>
    public int? ShortestEdge { get; init; }

    public PilResample Resample { get; init; } = PilResample.Bicubic;

    /// <summary>
    /// Whose arithmetic to reproduce. Not a checkpoint option: transformers 5 runs torchvision (the default here),
    /// transformers 4's slow processors PIL and numpy.
    /// </summary>
    public ProcessingBackend Backend { get; init; } = ProcessingBackend.Torchvision;
    public bool DoRescale { get; init; } = true;
    public double RescaleFactor { get; init; } = 1.0 / 255.0;
    public bool DoNormalize { get; init; } = true;

    /// <summary>Per-channel (R, G, B) mean, float32 as HF casts it.</summary>
    public float[] ImageMean { get; init; } = ClipMean;

    /// <summary>Per-channel (R, G, B) standard deviation, float32 as HF casts it.</summary>
    public float[] ImageStd { get; init; } = ClipStd;

    /// <summary>
    /// Kept for round-tripping the checkpoint's option: decoding always yields RGB (alpha dropped, gray expanded),
    /// because the vision model needs three channels either way.
    /// </summary>
    public bool DoConvertRgb { get; init; } = true;

    /// <summary>BLIP-2's defaults, what HF uses when a checkpoint has no processor config.</summary>
    public static ImageProcessorConfig Default { get; } = new();

    /// <summary>
    /// Reads <c>preprocessor_config.json</c> or, failing that, <c>processor_config.json</c>'s <c>image_processor</c>
    /// from a checkpoint folder; returns <see cref="Default"/> when neither exists.
    /// </summary>
    public static ImageProcessorConfig Load(string checkpointDir)
    {
        ArgumentNullException.ThrowIfNull(checkpointDir);
        var preprocessor = Path.Combine(checkpointDir, PreprocessorFileName);
        if (System.IO.File.Exists(preprocessor)) return LoadFile(preprocessor);

        var processor = Path.Combine(checkpointDir, ProcessorFileName);
        if (System.IO.File.Exists(processor))
        {
            using var doc = ParseFile(processor);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("image_processor", out var section))
            {
                return FromJson(section, processor + " (image_processor)");
            }
        }
        return Default;
    }

    /// <summary>Reads one config file whose top-level object holds the image processor's options.</summary>
    public static ImageProcessorConfig LoadFile(string path)
    {
        using var doc = ParseFile(path);
        return FromJson(doc.RootElement, path);
    }

    /// <summary>Reads the options from a JSON object; <paramref name="source"/> names it in error messages.</summary>
    public static ImageProcessorConfig FromJson(JsonElement json, string source)
    {
        if (json.ValueKind != JsonValueKind.Object)
            throw new ImageProcessorConfigException(source, $"expected a JSON object, found {json.ValueKind}");

        var config = new ImageProcessorConfig();
        var reader = new OptionReader(json, source);
        config = config with
        {
            DoResize = reader.Bool("do_resize") ?? config.DoResize,
            Resample = reader.Resample("resample") ?? config.Resample,
            DoRescale = reader.Bool("do_rescale") ?? config.DoRescale,
            RescaleFactor = reader.Double("rescale_factor") ?? config.RescaleFactor,
            DoNormalize = reader.Bool("do_normalize") ?? config.DoNormalize,
            ImageMean = reader.Channels("image_mean") ?? config.ImageMean,
            ImageStd = reader.Channels("image_std") ?? config.ImageStd,
            DoConvertRgb = reader.Bool("do_convert_rgb") ?? config.DoConvertRgb,
        };
        if (reader.Size("size") is { } size)
            config = config with { Height = size.Height, Width = size.Width, ShortestEdge = size.ShortestEdge };

        if (config.ImageStd.Any(s => s == 0f || !float.IsFinite(s)))
            throw new ImageProcessorConfigException(source, $"image_std must be finite and non-zero, got [{string.Join(", ", config.ImageStd)}]");
        if (config.ImageMean.Any(m => !float.IsFinite(m)))
            throw new ImageProcessorConfigException(source, $"image_mean must be finite, got [{string.Join(", ", config.ImageMean)}]");
        if (!double.IsFinite(config.RescaleFactor))
            throw new ImageProcessorConfigException(source, $"rescale_factor must be finite, got {config.RescaleFactor}");
        return config;
    }

    private static JsonDocument ParseFile(string path)
    {
        try
        {
            return JsonFiles.ParseStrict(System.IO.File.ReadAllBytes(path),
                new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ImageProcessorConfigException(path, $"malformed JSON: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new ImageProcessorConfigException(path, $"cannot be read: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ImageProcessorConfigException(path, $"cannot be read: {e.Message}", e);
        }
    }

    /// <summary>Typed access to optional keys; a key that is present with the wrong type is an error, never ignored.</summary>
    private readonly struct OptionReader(JsonElement json, string source)
    {
        private JsonElement? Get(string key) =>
            json.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        private ImageProcessorConfigException Bad(string key, JsonElement value, string expected) =>
            new(source, $"option '{key}' must be {expected}, got {Describe(value)}");

        private static string Describe(JsonElement value)
        {
            var text = value.GetRawText();
            return text.Length > 80 ? text[..80] + "…" : text;
        }

        public bool? Bool(string key) => Get(key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            { } v => throw Bad(key, v, "true or false"),
        };

        public double? Double(string key)
        {
            if (Get(key) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d)) return d;
            throw Bad(key, v, "a number");
        }

        public PilResample? Resample(string key)
        {
            if (Get(key) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var code))
                throw Bad(key, v, "a PIL resampling filter code (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)");
            if (code is < 1 or > 5)
                throw new ImageProcessorConfigException(source,
                    $"option '{key}' = {code} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)");
            return (PilResample)code;
        }

        /// <summary>A list of 3 numbers (R, G, B), or one number used for all channels, as HF's normalize allows.</summary>
        public float[]? Channels(string key)
        {
            if (Get(key) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number) return [(float)v.GetDouble(), (float)v.GetDouble(), (float)v.GetDouble()];
            if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() != 3
                || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number))
                throw Bad(key, v, "a list of 3 numbers (R, G, B)");
            return v.EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        }

        /// <summary>HF's size dict: {height, width}, {shortest_edge}, or a bare int meaning a square.</summary>
        public (int? Height, int? Width, int? ShortestEdge)? Size(string key)
        {
            if (Get(key) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number) { var n = Positive(key, v); return (n, n, null); }
            if (v.ValueKind != JsonValueKind.Object) throw Bad(key, v, "{\"height\": h, \"width\": w} or {\"shortest_edge\": n}");
            var hasH = v.TryGetProperty("height", out var h);
            var hasW = v.TryGetProperty("width", out var w);
            if (hasH && hasW) return (Positive(key + ".height", h), Positive(key + ".width", w), null);
            if (v.TryGetProperty("shortest_edge", out var s)) return (null, null, Positive(key + ".shortest_edge", s));
            throw Bad(key, v, "{\"height\": h, \"width\": w} or {\"shortest_edge\": n}");
        }

        private int Positive(string key, JsonElement v)
        {
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n > 0 && n <= 65536) return n;
            throw Bad(key, v, "a positive integer");
        }
    }
}
