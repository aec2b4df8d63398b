using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Images;

/// <summary>
/// Damaged images (random bytes overwritten, deterministic seeds) through the decoder: each decodes or fails with the
/// decoder's typed error, within a time bound; nothing else escapes. The JPEGs go through the exact decoder.
/// </summary>
public class DamagedImageTests
{
    private static readonly string CaseDir = Path.Combine(AppContext.BaseDirectory, "Images", "Data", "jpeg");
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("DAMAGED_IMAGE_ROUNDS"), out var r) ? r : 150;

    [Theory]
    [InlineData("s420.jpg", 1)]
    [InlineData("progressive420.jpg", 2)]
    [InlineData("s422.jpg", 3)]
    [InlineData("restart420.jpg", 4)]
    [InlineData("small.png", 5)]
    [InlineData("xor_gray.png", 6)]
    public async Task DamagedFilesDecodeOrFailWithATypedError(string name, int seed)
    {
        var original = File.ReadAllBytes(name.EndsWith(".png", StringComparison.Ordinal)
            ? Path.Combine(ImageGolden.Dir, name) : Path.Combine(CaseDir, name));
        var random = new Random(seed);
        for (var round = 0; round < Rounds; round++)
        {
            var bytes = (byte[])original.Clone();
            for (var n = random.Next(1, 8); n > 0; n--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            var decode = Task.Run(() =>
            {
                try { using var image = ImageDecoder.Default.Decode(bytes, $"{name}#{round}"); }
                catch (Blip2Exception) { }
            });
            var finished = await Task.WhenAny(decode, Task.Delay(TimeSpan.FromSeconds(10)));
            Assert.True(finished == decode, $"{name} round {round}: decoding did not finish in 10 s");
            await decode;   // rethrows anything that is not the decoder's own error
        }
    }
}
