using Blip2Compiler.Generation;

namespace Blip2Compiler.Tests.Generation;

/// <summary>The new controls in generation_config.json, and the notes on keys the engine does not use.</summary>
public class GenerationConfigControlTests
{
    [Fact]
    public void ReadsEveryControlInHuggingFacesSpelling()
    {
        using var dir = new TempDir();
        dir.Write("generation_config.json", """
            { "stop_strings": "Question:", "bad_words_ids": [[5], [6, 7]], "suppress_tokens": [1, 2], "begin_suppress_tokens": [3],
              "forced_bos_token_id": 0, "forced_eos_token_id": [2, 4], "num_beam_groups": 2, "diversity_penalty": 0.5,
              "output_scores": true, "transformers_version": "4.57.0", "_from_model_config": true }
            """);
        var file = GenerationDefaults.Read(dir.Path);
        var options = file.Options;
        Assert.Equal(["Question:"], options.StopStrings);
        Assert.Equal([[5L], [6L, 7L]], options.BadWordsIds!.Select(w => w.ToArray()));
        Assert.Equal([1L, 2L], options.SuppressTokens);
        Assert.Equal([3L], options.BeginSuppressTokens);
        Assert.Equal(0, options.ForcedBosTokenId);
        Assert.Equal([2L, 4L], options.ForcedEosTokenIds);
        Assert.Equal(2, options.NumBeamGroups);
        Assert.Equal(0.5, options.DiversityPenalty);
        Assert.True(options.OutputScores);
        Assert.Empty(file.Notes);   // bookkeeping keys are not worth a note

        dir.Write("generation_config.json", """{ "stop_strings": ["a", "b"], "forced_eos_token_id": 9 }""");
        options = GenerationDefaults.Load(dir.Path);
        Assert.Equal(["a", "b"], options.StopStrings);
        Assert.Equal([9L], options.ForcedEosTokenIds);
    }

    [Fact]
    public void UnknownAndUnimplementedKeysGetANoteAndDefaultsDoNot()
    {
        using var dir = new TempDir();
        dir.Write("generation_config.json", """
            { "max_new_tokens": 5, "typical_p": 0.9, "use_cache": true, "epsilon_cutoff": 0.0, "my_custom_flag": 3, "generation_kwargs": {} }
            """);
        var file = GenerationDefaults.Read(dir.Path);
        Assert.Equal(5, file.Options.MaxNewTokens);
        Assert.Equal(2, file.Notes.Count);
        Assert.Contains(file.Notes, n => n.Contains("`typical_p` = 0.9") && n.Contains("does not implement"));
        Assert.Contains(file.Notes, n => n.Contains("unknown key `my_custom_flag`"));
    }

    [Theory]
    [InlineData("""{ "bad_words_ids": [5, 6] }""", "bad_words_ids")]
    [InlineData("""{ "bad_words_ids": [[]] }""", "bad_words_ids")]
    [InlineData("""{ "stop_strings": 3 }""", "stop_strings")]
    [InlineData("""{ "suppress_tokens": ["a"] }""", "suppress_tokens")]
    [InlineData("""{ "forced_bos_token_id": 1.5 }""", "forced_bos_token_id")]
    [InlineData("""{ "num_beams": 4, "num_beam_groups": 3, "diversity_penalty": 1.0 }""", "num_beam_groups")]
    [InlineData("""{ "output_scores": "yes" }""", "output_scores")]
    [InlineData("""{ "suppress_tokens": [-1] }""", "suppress_tokens")]
    public void AWrongValueIsATypedErrorNamingTheKey(string json, string option)
    {
        using var dir = new TempDir();
        dir.Write("generation_config.json", json);
        // Wrong types fail at reading; impossible values when the options are validated (as generate does).
        var error = Assert.Throws<InvalidGenerationOptionException>(() => GenerationDefaults.Load(dir.Path).Validate());
        Assert.Equal(option, error.Option);
    }

    [Fact]
    public void MergeCarriesTheControls()
    {
        var defaults = new GenerationOptions { StopStrings = ["x"], SuppressTokens = [1], NumBeamGroups = 2 };
        var merged = GenerationDefaults.Merge(defaults, new GenerationOptions { StopStrings = ["y"], OutputScores = true });
        Assert.Equal(["y"], merged.StopStrings);
        Assert.Equal([1L], merged.SuppressTokens);
        Assert.Equal(2, merged.NumBeamGroups);
        Assert.True(merged.OutputScores);
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("blip2-controls-").FullName;
        public void Write(string name, string text) => File.WriteAllText(System.IO.Path.Combine(Path, name), text);
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
