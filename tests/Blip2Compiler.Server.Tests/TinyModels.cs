using System.Reflection;
using Blip2.Cli;
using Blip2Compiler.AI;
using Blip2Compiler.Models;
using SixLabors.ImageSharp.Processing;

namespace Blip2Compiler.Server.Tests;

/// <summary>The bundled tiny checkpoints (random weights), loaded once per test class.</summary>
public sealed class TinyModels : IDisposable
{
    public static string RepoRoot { get; } = typeof(TinyModels).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "RepoRoot").Value!;

    public static string PhotoPath => Path.Combine(RepoRoot, "samples", "assets", "astronaut.png");
    /// <summary>
    /// The bundled photo at 224×224 (the processor's input size), as PNG: a request body of ~100 KB instead of the
    /// original's 1 MB of base64, and a faster decode on every request.
    /// </summary>
    public static byte[] Photo { get; } = Shrink(PhotoPath);

    /// <summary>The same, mirrored: a second image, different from <see cref="Photo"/>.</summary>
    public static byte[] PhotoFlipped { get; } = Shrink(PhotoPath, flip: true);

    private static byte[] Shrink(string path, bool flip = false)
    {
        using var image = SixLabors.ImageSharp.Image.Load(path);
        image.Mutate(x => x.Resize(224, 224));
        if (flip) image.Mutate(x => x.Flip(FlipMode.Horizontal));
        using var png = new MemoryStream();
        image.Save(png, new SixLabors.ImageSharp.Formats.Png.PngEncoder());
        return png.ToArray();
    }

    /// <summary>The bundled checkpoints as the CLI finds them: copied next to it.</summary>
    public static string TinyOpt => Path.Combine(AppContext.BaseDirectory, "checkpoints", "blip2-tiny-opt");
    public static string TinyItm => Path.Combine(AppContext.BaseDirectory, "checkpoints", "blip2-tiny-itm");
    public static string TinyT5 => Path.Combine(AppContext.BaseDirectory, "checkpoints", "blip2-tiny-t5");

    public TinyModels()
    {
        Opt = BundledTinyOpt.Load(TinyOpt);
        Captioner = Blip2Captioner.FromCheckpoint(Opt);
    }

    public OptConditionalGeneration Opt { get; }
    public Blip2Captioner Captioner { get; }

    public void Dispose() => Opt.Dispose();
}
