using System.Text.Json;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>The commands on the bundled photo and tiny checkpoints (random weights: any text will do).</summary>
public class EndToEndTests
{
    [Fact]
    public async Task CaptionsTheBundledPhotoWithTheBundledCheckpoint()
    {
        var run = await CliRun.Run("caption", CliRun.Photo);
        Assert.True(run.ExitCode == 0, run.Error);
        var line = Assert.Single(run.OutLines);
        var parts = line.Split('\t');
        Assert.Equal(CliRun.Photo, parts[0]);
        Assert.False(string.IsNullOrWhiteSpace(parts[1]), "the caption is empty");
        Assert.Contains("RANDOM WEIGHTS", run.Error);
        Assert.Contains("images/s", run.Error);
    }

    [Fact]
    public async Task CaptionsAFolderInBatchesAsJson()
    {
        using var temp = new TempFolder();
        foreach (var name in new[] { "a.png", "b.png", "sub/c.png" }) File.Copy(CliRun.Photo, temp.File(name));
        var run = await CliRun.Run("caption", temp.Path, "--batch-size", "2", "--max-new-tokens", "4", "--json", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        using var json = JsonDocument.Parse(run.Out);
        var captions = json.RootElement.GetProperty("captions").EnumerateArray().ToList();
        Assert.Equal(3, captions.Count);
        // Same image, greedy decoding: the same caption whatever the batch it was in.
        Assert.Single(captions.Select(c => c.GetProperty("text").GetString()).Distinct());
        Assert.Equal(3, json.RootElement.GetProperty("summary").GetProperty("images").GetInt32());
        Assert.Equal("blip2-tiny-opt", json.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public async Task BeamSearchAndSamplingRun()
    {
        var beams = await CliRun.Run("caption", CliRun.Photo, "--beams", "3", "--max-new-tokens", "5", "--model", CliRun.TinyOpt);
        Assert.True(beams.ExitCode == 0, beams.Error);
        var first = await CliRun.Run("caption", CliRun.Photo, "--sample", "--temperature", "0.9", "--top-p", "0.9", "--seed", "7", "--model", CliRun.TinyOpt);
        var second = await CliRun.Run("caption", CliRun.Photo, "--sample", "--temperature", "0.9", "--top-p", "0.9", "--seed", "7", "--model", CliRun.TinyOpt);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Equal(first.Out, second.Out);
    }

    [Fact]
    public async Task AnswersAQuestion()
    {
        var run = await CliRun.Run("ask", CliRun.Photo, "what is she wearing?", "--json", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        using var json = JsonDocument.Parse(run.Out);
        Assert.Equal("what is she wearing?", json.RootElement.GetProperty("question").GetString());
        Assert.NotNull(json.RootElement.GetProperty("answer").GetString());
    }

    [Fact]
    public async Task CaptionsAndAnswersWithTheBundledFlanT5()
    {
        var caption = await CliRun.Run("caption", CliRun.Photo, CliRun.Photo, "--beams", "2", "--json", "--model", CliRun.TinyT5);
        Assert.True(caption.ExitCode == 0, caption.Error);
        using (var json = JsonDocument.Parse(caption.Out))
        {
            Assert.Equal("blip2-tiny-t5", json.RootElement.GetProperty("model").GetString());
            var texts = json.RootElement.GetProperty("captions").EnumerateArray().Select(c => c.GetProperty("text").GetString()).ToList();
            Assert.Equal(2, texts.Count);
            Assert.Single(texts.Distinct());
        }

        var answer = await CliRun.Run("ask", CliRun.Photo, "what is she wearing?", "--jsonl", "--model", CliRun.TinyT5);
        Assert.True(answer.ExitCode == 0, answer.Error);
        using var line = JsonDocument.Parse(Assert.Single(answer.OutLines));
        Assert.NotNull(line.RootElement.GetProperty("answer").GetString());
    }

    [Fact]
    public void TheBundledFlanT5IsAT5ModelWithTheFixturesSentencePieceVocabulary()
    {
        Assert.Equal("t5", Blip2.Cli.BundledTinyT5.Info.TextModelType);
        Assert.Equal(801, Blip2.Cli.BundledTinyT5.Info.VocabSize);
        Assert.Equal(800, Blip2.Cli.BundledTinyT5.Info.ImageTokenIndex);
        var tokenizer = Processing.TokenizerLoader.Load(CliRun.TinyT5);
        Assert.Equal(1, tokenizer.EosTokenId);
        Assert.Equal(0, tokenizer.PadTokenId);
    }

    [Fact]
    public async Task MatchesTextsAgainstAnImage()
    {
        var run = await CliRun.Run("match", CliRun.Photo, "an astronaut", "a bowl of soup", "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        using var json = JsonDocument.Parse(run.Out);
        var scores = json.RootElement.GetProperty("scores").EnumerateArray().ToList();
        Assert.Equal(2, scores.Count);
        Assert.Equal("a bowl of soup", scores[1].GetProperty("text").GetString());
        foreach (var score in scores)
        {
            Assert.InRange(score.GetProperty("itm_probability").GetDouble(), 0, 1);
            Assert.InRange(score.GetProperty("itc_similarity").GetDouble(), -1.0001, 1.0001);
        }
    }

    [Fact]
    public async Task MatchPrintsATable()
    {
        var run = await CliRun.Run("match", CliRun.Photo, "an astronaut", "--model", CliRun.TinyItm);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(["itm\titc\ttext"], run.OutLines.Take(1));
        Assert.EndsWith("\tan astronaut", run.OutLines[1]);
    }

    [Fact]
    public async Task EmbedsImagesAndTextsAsUnitVectors()
    {
        var run = await CliRun.Run("embed", CliRun.Photo, "--text", "an astronaut", "--model", CliRun.TinyItm);
        Assert.True(run.ExitCode == 0, run.Error);
        using var json = JsonDocument.Parse(run.Out);
        Assert.Equal(24, json.RootElement.GetProperty("dimensions").GetInt32());
        var embeddings = json.RootElement.GetProperty("embeddings").EnumerateArray().ToList();
        Assert.Equal(["image", "text"], embeddings.Select(e => e.GetProperty("kind").GetString()));
        foreach (var e in embeddings)
        {
            var v = e.GetProperty("embedding").EnumerateArray().Select(x => x.GetDouble()).ToList();
            Assert.Equal(24, v.Count);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => x * x)), 4);
        }
    }
}
