using System.Reflection;
using Blip2.Cli;
using Blip2Compiler.AI;
using Blip2Compiler.Models;

namespace Blip2Compiler.Server.Tests;

/// <summary>The bundled tiny checkpoints (random weights), loaded once per test class.</summary>
public sealed class TinyModels : IDisposable
{
    public static string RepoRoot { get; } = typeof(TinyModels).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "RepoRoot").Value!;

    public static string PhotoPath => Path.Combine(RepoRoot, "samples", "assets", "astronaut.png");
    public static byte[] Photo { get; } = File.ReadAllBytes(PhotoPath);

    /// <summary>The bundled checkpoints as the CLI finds them: copied next to it.</summary>
    public static string TinyOpt => Path.Combine(AppContext.BaseDirectory, "checkpoints", "blip2-tiny-opt");
    public static string TinyItm => Path.Combine(AppContext.BaseDirectory, "checkpoints", "blip2-tiny-itm");

    public TinyModels()
    {
        Opt = BundledTinyOpt.Load(TinyOpt);
        Captioner = Blip2Captioner.FromCheckpoint(Opt);
    }

    public OptConditionalGeneration Opt { get; }
    public Blip2Captioner Captioner { get; }

    public void Dispose() => Opt.Dispose();
}
