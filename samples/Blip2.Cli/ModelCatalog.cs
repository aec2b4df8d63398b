using System.Text.Json;
using Blip2Compiler;
using Blip2Compiler.Models;

namespace Blip2.Cli;

/// <summary>What a compiled model can do: generate text (captions, answers) or score and embed image–text pairs.</summary>
internal enum ModelKind { Generation, Retrieval }

/// <summary>A class compiled into this tool, what it was compiled from (its <see cref="ModelInfo"/>), and how to load a
/// checkpoint into it.</summary>
internal sealed record CompiledModel(string Name, ModelKind Kind, ModelInfo Info, Func<string, Blip2LoadOptions, Blip2ModelBase> Load);

/// <summary>Maps a checkpoint folder to the compiled class whose config.json matches its own.</summary>
internal static class ModelCatalog
{
    public const string TinyOpt = "blip2-tiny-opt";
    public const string TinyItm = "blip2-tiny-itm";
    public const string TinyT5 = "blip2-tiny-t5";

    public static IReadOnlyList<CompiledModel> Models { get; } =
    [
        Entry(TinyOpt, BundledTinyOpt.Info, BundledTinyOpt.Load),
        Entry(TinyItm, BundledTinyItm.Info, BundledTinyItm.Load),
        Entry(TinyT5, BundledTinyT5.Info, BundledTinyT5.Load),
        Entry("blip2-opt-2.7b", Blip2Opt27b.Info, Blip2Opt27b.Load),
        Entry("blip2-opt-6.7b", Blip2Opt67b.Info, Blip2Opt67b.Load),
        Entry("blip2-opt-6.7b-coco", Blip2Opt67bCoco.Info, Blip2Opt67bCoco.Load),
        Entry("blip2-flan-t5-xl", Blip2FlanT5Xl.Info, Blip2FlanT5Xl.Load),
        Entry("blip2-flan-t5-xl-coco", Blip2FlanT5XlCoco.Info, Blip2FlanT5XlCoco.Load),
        Entry("blip2-flan-t5-xxl", Blip2FlanT5Xxl.Info, Blip2FlanT5Xxl.Load),
        Entry("blip2-itm-vit-g", Blip2ItmVitG.Info, Blip2ItmVitG.Load),
        Entry("blip2-itm-vit-g-coco", Blip2ItmVitGCoco.Info, Blip2ItmVitGCoco.Load),
    ];

    /// <summary>The bundled tiny checkpoint folders, copied next to the tool at build.</summary>
    public static string BundledCheckpoint(string name) => Path.Combine(AppContext.BaseDirectory, "checkpoints", name);

    /// <summary>The compiled model for a checkpoint folder.</summary>
    /// <exception cref="Blip2Exception">No config.json, an unreadable one, or no compiled class for it.</exception>
    public static CompiledModel Resolve(string checkpointDirectory)
    {
        if (!Directory.Exists(checkpointDirectory))
            throw new Blip2Exception($"model folder '{checkpointDirectory}' does not exist");
        var configPath = Path.Combine(checkpointDirectory, "config.json");
        if (!File.Exists(configPath))
            throw new Blip2Exception($"'{checkpointDirectory}' is not a checkpoint folder: it has no config.json");

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(File.ReadAllText(configPath),
                new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }).RootElement;
        }
        catch (JsonException e)
        {
            throw new Blip2Exception($"{configPath}: not a BLIP-2 config.json ({e.Message})");
        }

        if (root.ValueKind == JsonValueKind.Object && OtherFamily(root) is var (type, architecture))
            throw new NotBlip2ConfigException(configPath, type, architecture);

        // Every field the class was compiled with, Hugging Face's defaults filling what the file omits.
        var candidates = Models.Select(m => (Model: m, Problems: CompiledConfig.Mismatches(root, m.Info))).ToList();
        if (candidates.FirstOrDefault(c => c.Problems.Count == 0).Model is { } match) return match;
        var closest = candidates.OrderBy(c => c.Problems.Count).First();
        throw new Blip2Exception(
            $"{configPath}: no model compiled into this tool matches it; the closest, {closest.Model.Name}, differs in "
            + string.Join("; ", closest.Problems.Take(3)) + (closest.Problems.Count > 3 ? $" (and {closest.Problems.Count - 3} more)" : "") + ". "
            + $"Compiled in: {string.Join(", ", Models.Select(m => m.Name))}. "
            + "To run another checkpoint, compile it yourself with the Blip2Compiler package: "
            + "[Blip2Model(\"config.json\")] public partial class MyModel; plus <AdditionalFiles Include=\"config.json\" /> (see README).");
    }

    /// <summary>
    /// The model_type and first architecture of a config that says it is of another family, else null. A BLIP-2
    /// config says model_type "blip-2" (transformers' Blip2Config.model_type) and an architecture named Blip2*; one
    /// that says neither (a bare or hand-made file) is left to the field-by-field comparison.
    /// </summary>
    private static (string? ModelType, string? Architecture)? OtherFamily(JsonElement root)
    {
        var type = root.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var architecture = root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0
            && a[0].ValueKind == JsonValueKind.String ? a[0].GetString() : null;
        bool saysBlip2 = type == "blip-2" || architecture?.StartsWith("Blip2", StringComparison.Ordinal) == true;
        bool saysAnything = type is not null || architecture is not null;
        return saysAnything && !saysBlip2 ? (type, architecture) : null;
    }

    private static CompiledModel Entry<T>(string name, ModelInfo info, Func<string, Blip2LoadOptions?, T> load) where T : Blip2ModelBase
    {
        var kind = typeof(ImageTextRetrieval).IsAssignableFrom(typeof(T)) ? ModelKind.Retrieval : ModelKind.Generation;
        return new CompiledModel(name, kind, info, (dir, options) => load(dir, options));
    }
}
