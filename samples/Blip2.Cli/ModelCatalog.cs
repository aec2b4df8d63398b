using System.Reflection;
using System.Text.Json;
using Blip2Compiler;
using Blip2Compiler.Models;

namespace Blip2.Cli;

/// <summary>What a compiled model can do: generate text (captions, answers) or score and embed image–text pairs.</summary>
internal enum ModelKind { Generation, Retrieval }

/// <summary>A class compiled into this tool, the config it was compiled from, and how to load a checkpoint into it.</summary>
internal sealed record CompiledModel(string Name, ModelKind Kind, ConfigSignature Signature, Func<string, Blip2LoadOptions, Blip2ModelBase> Load);

/// <summary>Maps a checkpoint folder to the compiled class whose config.json matches its own.</summary>
internal static class ModelCatalog
{
    public const string TinyOpt = "blip2-tiny-opt";
    public const string TinyItm = "blip2-tiny-itm";

    public static IReadOnlyList<CompiledModel> Models { get; } =
    [
        Entry<BundledTinyOpt>(TinyOpt, BundledTinyOpt.Load),
        Entry<BundledTinyItm>(TinyItm, BundledTinyItm.Load),
        Entry<Blip2Opt27b>("blip2-opt-2.7b", Blip2Opt27b.Load),
        Entry<Blip2Opt67b>("blip2-opt-6.7b", Blip2Opt67b.Load),
        Entry<Blip2Opt67bCoco>("blip2-opt-6.7b-coco", Blip2Opt67bCoco.Load),
        Entry<Blip2FlanT5Xl>("blip2-flan-t5-xl", Blip2FlanT5Xl.Load),
        Entry<Blip2FlanT5XlCoco>("blip2-flan-t5-xl-coco", Blip2FlanT5XlCoco.Load),
        Entry<Blip2FlanT5Xxl>("blip2-flan-t5-xxl", Blip2FlanT5Xxl.Load),
        Entry<Blip2ItmVitG>("blip2-itm-vit-g", Blip2ItmVitG.Load),
        Entry<Blip2ItmVitGCoco>("blip2-itm-vit-g-coco", Blip2ItmVitGCoco.Load),
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

        ConfigSignature signature;
        try
        {
            signature = ConfigSignature.Parse(File.ReadAllText(configPath));
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new Blip2Exception($"{configPath}: not a BLIP-2 config.json ({e.Message})");
        }

        return Models.FirstOrDefault(m => m.Signature.Matches(signature))
            ?? throw new Blip2Exception(
                $"{configPath}: no model compiled into this tool matches it ({signature.Describe()}). "
                + $"Compiled in: {string.Join(", ", Models.Select(m => m.Name))}. "
                + "To run another checkpoint, compile it yourself with the Blip2Compiler package: "
                + "[Blip2Model(\"config.json\")] public partial class MyModel; plus <AdditionalFiles Include=\"config.json\" /> (see README).");
    }

    private static CompiledModel Entry<T>(string name, Func<string, Blip2LoadOptions?, T> load) where T : Blip2ModelBase
    {
        var kind = typeof(ImageTextRetrieval).IsAssignableFrom(typeof(T)) ? ModelKind.Retrieval : ModelKind.Generation;
        return new CompiledModel(name, kind, ConfigSignature.Parse(EmbeddedConfig(name)), (dir, options) => load(dir, options));
    }

    private static string EmbeddedConfig(string name)
    {
        var assembly = typeof(ModelCatalog).Assembly;
        var resource = assembly.GetManifestResourceNames()
            .FirstOrDefault(r => r.Replace('\\', '/') == $"models/{name}/config.json")
            ?? throw new InvalidOperationException($"the build did not embed models/{name}/config.json");
        using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
        return reader.ReadToEnd();
    }
}
