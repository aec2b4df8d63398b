using Blip2Compiler.Generation;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// A checkpoint folder whose config.json or generation_config.json has random bytes overwritten (deterministic seeds):
/// loading and generating either work or fail with a <see cref="Blip2Exception"/>; nothing else escapes.
/// </summary>
public class DamagedCheckpointFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "blip2-damaged-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("config.json", 1)]
    [InlineData("generation_config.json", 2)]
    public void DamagedJsonLoadsOrFailsWithATypedError(string file, int seed)
    {
        using var g = new GoldenCase("blip2-opt");
        Directory.CreateDirectory(_dir);
        foreach (var f in Directory.GetFiles(g.ModelDirectory)) File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)), overwrite: true);
        var original = File.ReadAllBytes(Path.Combine(g.ModelDirectory, file));
        var random = new Random(seed);
        for (var round = 0; round < 40; round++)
        {
            var bytes = (byte[])original.Clone();
            for (var n = random.Next(1, 6); n > 0; n--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            File.WriteAllBytes(Path.Combine(_dir, file), bytes);
            try
            {
                using var model = GoldenOpt.Load(_dir);
                model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], new GenerationOptions { MaxNewTokens = 2 });
            }
            catch (Blip2Exception)
            {
            }
        }
    }
}
