using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Text;

/// <summary>
/// Tokenizer folders with one file damaged (random bytes overwritten, deterministic seeds): loading and encoding either
/// work or fail with the loader's typed error; nothing else escapes.
/// </summary>
public class DamagedTokenizerFileTests
{
    [Theory]
    [InlineData("opt", "vocab.json", 1)]
    [InlineData("opt", "merges.txt", 2)]
    [InlineData("bert", "vocab.txt", 3)]
    [InlineData("unigram_spm", "spiece.model", 4)]
    public void DamagedFilesLoadOrFailWithATypedError(string @case, string file, int seed)
    {
        var original = File.ReadAllBytes(Path.Combine(TokenizerFixtures.Root, @case, file));
        var random = new Random(seed);
        for (var round = 0; round < 60; round++)
        {
            using var dir = TokenizerFixtures.CopyOf(@case);
            var bytes = (byte[])original.Clone();
            for (var n = random.Next(1, 12); n > 0; n--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            dir.Write(file, bytes);
            try
            {
                var tokenizer = TokenizerLoader.Load(dir.Path);
                var ids = tokenizer.Encode("Question: what is in the picture? Answer: a cat");
                tokenizer.Decode(ids);
            }
            catch (Blip2Exception)
            {
            }
        }
    }
}
