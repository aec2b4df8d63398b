using Blip2Compiler.Serving;

namespace Blip2Compiler.Tests.Serving;

/// <summary>Stop sequences and streaming text (OpenAI's <c>stop</c>: the text ends before the first stop, exclusive).</summary>
public class SequenceTextTests
{
    private static (string Text, string Streamed, bool Stopped) Feed(string[] stops, params string[] decodings)
    {
        var text = new SequenceText(stops);
        var streamed = "";
        foreach (var decoded in decodings) streamed += text.Update(decoded);
        if (!text.Stopped) streamed += text.Finish();
        return (text.Text, streamed, text.Stopped);
    }

    [Fact]
    public void AStopSplitAcrossTokensEndsTheTextBeforeIt()
    {
        var (text, streamed, stopped) = Feed(["\nQ:"], " an", " an astronaut", " an astronaut\n", " an astronaut\nQ", " an astronaut\nQ: what");
        Assert.True(stopped);
        Assert.Equal("an astronaut", text);
        Assert.Equal(text, streamed);
    }

    [Fact]
    public void TheEarliestOfSeveralStopsWins()
    {
        var (text, _, _) = Feed(["cat", "dog"], "a dog and a cat");
        Assert.Equal("a", text);
    }

    [Fact]
    public void TextThatCouldStartAStopIsHeldBackUntilItCannot()
    {
        var text = new SequenceText(["STOP"]);
        Assert.Equal("a", text.Update("a ST"));
        Assert.Equal(" STa", text.Update("a STa"));
        Assert.False(text.Stopped);
    }

    [Fact]
    public void IncompleteCharactersAndTrailingSpacesWaitForWhatFollows()
    {
        var text = new SequenceText(null);
        Assert.Equal("caf", text.Update(" caf\uFFFD"));
        Assert.Equal("é", text.Update(" café "));
        Assert.Equal(" au", text.Update(" café au "));
        Assert.Equal("", text.Finish());
        Assert.Equal("café au", text.Text);
    }

    [Fact]
    public void WithoutStopsTheTextIsTheTrimmedDecoding()
    {
        var (text, streamed, stopped) = Feed([], " a", " a photo", " a photo of ");
        Assert.False(stopped);
        Assert.Equal("a photo of", text);
        Assert.Equal(text, streamed);
    }
}
