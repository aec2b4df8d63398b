using Blip2Compiler;
using Blip2Compiler.Models;

namespace Blip2.Cli;

/// <summary>What a compiled model can do: generate text (captions, answers) or score and embed image–text pairs.</summary>
internal enum ModelKind { Generation, Retrieval }

/// <summary>A class compiled into this tool, what it was compiled from (its <see cref="ModelInfo"/>), and how to load a
/// checkpoint into it; <see cref="Config"/> is the folder's config.json once <see cref="ModelCatalog.Resolve"/> read it.</summary>
internal sealed record CompiledModel(string Name, ModelKind Kind, ModelInfo Info, Func<string, Blip2LoadOptions, Blip2ModelBase> LoadClass)
{
    public CheckpointConfig? Config { get; init; }

    /// <summary>Loads a checkpoint into the class, with the config.json the match was made with (read once per load).</summary>
    public Blip2ModelBase Load(string directory, Blip2LoadOptions options) => LoadClass(directory, Config is null ? options : options with { Config = Config });
}

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
        // Read once: the load checks this same config against the class (Blip2LoadOptions.Config).
        var config = CheckpointConfig.Read(checkpointDirectory)
            ?? throw new Blip2Exception($"'{checkpointDirectory}' is not a checkpoint folder: it has no config.json");
        // Every field each class was compiled with, Hugging Face's defaults filling what the file omits.
        return CompiledConfig.FindMatch(config, Models, m => m.Info, m => m.Name) with { Config = config };
    }

    private static CompiledModel Entry<T>(string name, ModelInfo info, Func<string, Blip2LoadOptions?, T> load) where T : Blip2ModelBase
    {
        var kind = typeof(ImageTextRetrieval).IsAssignableFrom(typeof(T)) ? ModelKind.Retrieval : ModelKind.Generation;
        return new CompiledModel(name, kind, info, (dir, options) => load(dir, options));
    }
}
