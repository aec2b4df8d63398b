using Blip2Compiler.Generation;

namespace Blip2Compiler.Tests.Generation;

public class GenerationOptionsTests
{
    public static TheoryData<GenerationOptions, string> InvalidOptions => new()
    {
        { new() { NumBeams = 0 }, "num_beams" },
        { new() { NumBeams = -2 }, "num_beams" },
        { new() { DoSample = true, Temperature = 0 }, "temperature" },
        { new() { DoSample = true, Temperature = -1 }, "temperature" },
        { new() { TopP = 0 }, "top_p" },
        { new() { TopP = 1.5 }, "top_p" },
        { new() { TopK = -1 }, "top_k" },
        { new() { MaxNewTokens = 0 }, "max_new_tokens" },
        { new() { MaxLength = -5 }, "max_length" },
        { new() { MinNewTokens = -1 }, "min_new_tokens" },
        { new() { MinNewTokens = 5, MaxNewTokens = 3 }, "min_new_tokens" },
        { new() { MinLength = 10, MaxLength = 5 }, "min_length" },
        { new() { NumBeams = 2, NumReturnSequences = 3 }, "num_return_sequences" },
        { new() { NumReturnSequences = 2 }, "num_return_sequences" },
        { new() { NumReturnSequences = 0 }, "num_return_sequences" },
        { new() { RepetitionPenalty = 0 }, "repetition_penalty" },
        { new() { RepetitionPenalty = -1.2 }, "repetition_penalty" },
        { new() { NoRepeatNgramSize = -1 }, "no_repeat_ngram_size" },
        { new() { LengthPenalty = double.NaN }, "length_penalty" },
        { new() { EosTokenIds = [2, -1] }, "eos_token_id" },
        { new() { PadTokenId = -1 }, "pad_token_id" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void InvalidOptionsAreNamed(GenerationOptions options, string option)
    {
        var error = Assert.Throws<InvalidGenerationOptionException>(options.Validate);
        Assert.Equal(option, error.Option);
        Assert.Contains($"`{option}`", error.Message);
        Assert.IsAssignableFrom<Blip2Exception>(error);
    }

    [Fact]
    public void SensibleOptionsAreValid()
    {
        new GenerationOptions().Validate();
        new GenerationOptions { NumBeams = 4, NumReturnSequences = 4, LengthPenalty = -0.5, EarlyStopping = EarlyStopping.Never }.Validate();
        new GenerationOptions { DoSample = true, NumReturnSequences = 3, Temperature = 0.7, TopK = 0, TopP = 1 }.Validate();
        new GenerationOptions { Temperature = 0 }.Validate();   // ignored without sampling, as in Hugging Face
    }

    [Fact]
    public void EarlyStoppingParsesBoolOrNever()
    {
        Assert.Equal(EarlyStopping.Never, EarlyStopping.Parse("never"));
        Assert.Equal(EarlyStopping.True, EarlyStopping.Parse("True"));
        Assert.Equal(EarlyStopping.False, (EarlyStopping)false);
        Assert.Equal("early_stopping", Assert.Throws<InvalidGenerationOptionException>(() => EarlyStopping.Parse("sometimes")).Option);
    }

    [Fact]
    public void LoadReadsGenerationConfigWithTokenFallbacksFromConfig()
    {
        using var dir = new TempDir();
        dir.Write("generation_config.json", """
            { "eos_token_id": [50118, 2], "max_length": 30, "num_beams": 5, "length_penalty": -1.0,
              "early_stopping": "never", "do_sample": false, "top_p": 0.9, "temperature": 0.7, "min_length": 3 }
            """);
        dir.Write("config.json", """
            { "text_config": { "bos_token_id": 2, "pad_token_id": 1, "eos_token_id": 50 }, "decoder_start_token_id": 0 }
            """);

        var options = GenerationDefaults.Load(dir.Path);

        Assert.Equal([50118L, 2], options.EosTokenIds);   // generation_config.json wins
        Assert.Equal(1, options.PadTokenId);
        Assert.Equal(2, options.BosTokenId);
        Assert.Equal(0, options.DecoderStartTokenId);     // top level of config.json
        Assert.Equal(30, options.MaxLength);
        Assert.Equal(5, options.NumBeams);
        Assert.Equal(-1.0, options.LengthPenalty);
        Assert.Equal(EarlyStopping.Never, options.EarlyStopping);
        Assert.Equal(0.9, options.TopP);
        Assert.Equal(0.7, options.Temperature);
        Assert.Equal(3, options.MinLength);
        Assert.False(options.DoSample);
        Assert.Null(options.MaxNewTokens);
    }

    [Fact]
    public void LoadTreatsTheDefaultMaxLengthAsUnset()
    {
        using var dir = new TempDir();
        dir.Write("generation_config.json", """{ "max_length": 20, "eos_token_id": 1, "pad_token_id": 0 }""");
        var options = GenerationDefaults.Load(dir.Path);
        Assert.Null(options.MaxLength);
        Assert.Equal([1L], options.EosTokenIds);
        Assert.Equal(0, options.PadTokenId);
    }

    [Fact]
    public void LoadWithoutGenerationConfigUsesTheTextConfigTokens()
    {
        using var dir = new TempDir();
        dir.Write("config.json", """{ "pad_token_id": 7, "text_config": { "eos_token_id": 1, "decoder_start_token_id": 0 } }""");
        var options = GenerationDefaults.Load(dir.Path);
        Assert.Equal([1L], options.EosTokenIds);
        Assert.Equal(0, options.DecoderStartTokenId);
        Assert.Equal(7, options.PadTokenId);
        Assert.Null(options.NumBeams);
    }

    [Fact]
    public void LoadNamesTheFileAndKeyOfAWrongValue()
    {
        using var dir = new TempDir();
        dir.Write("generation_config.json", """{ "top_k": "many" }""");
        var error = Assert.Throws<InvalidGenerationOptionException>(() => GenerationDefaults.Load(dir.Path));
        Assert.Equal("top_k", error.Option);
        Assert.Contains("generation_config.json", error.Message);

        dir.Write("generation_config.json", "{ not json");
        Assert.Contains("generation_config.json", Assert.Throws<Blip2Exception>(() => GenerationDefaults.Load(dir.Path)).Message);
        Assert.Throws<Blip2Exception>(() => GenerationDefaults.Load(System.IO.Path.Combine(dir.Path, "missing")));
    }

    [Fact]
    public void MergeLetsSetOverridesWin()
    {
        var defaults = new GenerationOptions { EosTokenIds = [50118], PadTokenId = 1, NumBeams = 5, MaxLength = 30 };
        var merged = GenerationDefaults.Merge(defaults, new GenerationOptions { NumBeams = 3, MaxNewTokens = 8 });
        Assert.Equal(3, merged.NumBeams);
        Assert.Equal(8, merged.MaxNewTokens);
        Assert.Equal(30, merged.MaxLength);
        Assert.Equal([50118L], merged.EosTokenIds);
        Assert.Equal(1, merged.PadTokenId);
        Assert.Same(defaults, GenerationDefaults.Merge(defaults, null));
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("blip2-generation-").FullName;
        public void Write(string name, string text) => File.WriteAllText(System.IO.Path.Combine(Path, name), text);
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
