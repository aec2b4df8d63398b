using Blip2Compiler;
using Blip2Compiler.Models;
using TorchSharp;

namespace Blip2.Cli;

/// <summary>A checkpoint loaded into its compiled class, for one command.</summary>
internal sealed class ModelSession : IDisposable
{
    private ModelSession(CompiledModel compiled, string directory, Blip2ModelBase model)
    {
        Compiled = compiled;
        Directory = directory;
        Model = model;
    }

    public CompiledModel Compiled { get; }
    public string Directory { get; }
    public Blip2ModelBase Model { get; }

    /// <summary>
    /// Loads --model, or the bundled tiny checkpoint of the right kind (with a one-line notice: its weights are
    /// random). The checkpoint must suit the command: a captioning model for caption/ask, a retrieval one for match/embed.
    /// </summary>
    public static ModelSession Open(RunSettings settings, ModelKind kind, string command)
    {
        var options = settings.LoadOptions();
        var bundled = kind == ModelKind.Generation ? ModelCatalog.TinyOpt : ModelCatalog.TinyItm;
        var directory = settings.Model is { } given ? ModelLocation.Resolve(given, settings.Environment) : ModelCatalog.BundledCheckpoint(bundled);
        var compiled = ModelCatalog.Resolve(directory);
        if (compiled.Kind != kind)
            throw new UsageException(kind == ModelKind.Generation
                ? $"'{command}' needs a captioning checkpoint (Blip2ForConditionalGeneration, e.g. blip2-opt-2.7b); '{directory}' is an image-text retrieval one ({compiled.Name})"
                : $"'{command}' needs an image-text retrieval checkpoint (Blip2ForImageTextRetrieval, e.g. blip2-itm-vit-g); '{directory}' is a captioning one ({compiled.Name})");

        var model = compiled.Load(directory, options);
        // After the load: libtorch is loaded by then (from --libtorch or BLIP2_LIBTORCH, if given).
        if (settings.Threads is { } threads) torch.set_num_threads(threads);
        if (settings.Model is null)
            settings.Note($"using the bundled tiny checkpoint {bundled}: RANDOM WEIGHTS, the output is meaningless; pass --model <folder> for a real checkpoint");
        return new ModelSession(compiled, directory, model);
    }

    public void Dispose() => Model.Dispose();
}
