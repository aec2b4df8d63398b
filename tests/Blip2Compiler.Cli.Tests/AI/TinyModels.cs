using Blip2.Cli;
using Blip2Compiler.AI;
using Blip2Compiler.Models;
using Blip2Compiler.Tests.CommandLine;

namespace Blip2Compiler.Tests.AI;

/// <summary>The bundled tiny checkpoints (random weights), loaded once per test class.</summary>
public sealed class TinyModels : IDisposable
{
    public TinyModels()
    {
        Opt = BundledTinyOpt.Load(CliRun.TinyOpt);
        Itm = BundledTinyItm.Load(CliRun.TinyItm);
        Captioner = Blip2Captioner.FromCheckpoint(Opt);
        Retriever = Blip2Retriever.FromCheckpoint(Itm);
    }

    public OptConditionalGeneration Opt { get; }
    public ImageTextRetrieval Itm { get; }
    public Blip2Captioner Captioner { get; }
    public Blip2Retriever Retriever { get; }

    public static byte[] PhotoBytes => File.ReadAllBytes(CliRun.Photo);

    public void Dispose()
    {
        Opt.Dispose();
        Itm.Dispose();
    }
}
