using System.Text.Json;
using Blip2Compiler.Processing;

namespace Blip2Compiler.Tests.Text;

/// <summary>
/// GPT-2's pre-tokenizer split against Python's `regex` module with GPT-2's pattern (Data/gpt2_splits.json, made by
/// Data/make_gpt2_splits.py): texts with letters, digits and emoji outside the BMP, contractions and whitespace runs.
/// </summary>
public class Gpt2PreTokenizerTests
{
    private static readonly string DataFile = Path.Combine(AppContext.BaseDirectory, "Text", "Data", "gpt2_splits.json");

    public static TheoryData<int> Cases()
    {
        var data = new TheoryData<int>();
        using var doc = JsonDocument.Parse(File.ReadAllText(DataFile));
        for (var i = 0; i < doc.RootElement.GetArrayLength(); i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SplitsAsTheReferenceRegex(int index)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(DataFile));
        var @case = doc.RootElement[index];
        var text = @case.GetProperty("text").GetString()!;
        var expected = @case.GetProperty("pieces").EnumerateArray().Select(p => p.GetString()!).ToList();
        var pieces = Gpt2PreTokenizer.Split(text).Select(p => text.Substring(p.Offset, p.Length)).ToList();
        Assert.Equal(expected, pieces);
    }

    [Fact]
    public void TextOutsideTheBmpRoundTripsThroughTheOptTokenizer()
    {
        var tokenizer = TokenizerLoader.Load(Path.Combine(TokenizerFixtures.Root, "opt"));
        foreach (var text in new[] { "𝐀bc def", "x𠀀y 𠀀", "a 𝟙2 𐌰𐌱", "hi 😀😀 ok!" })
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, addSpecialTokens: false), skipSpecialTokens: true));
    }
}
