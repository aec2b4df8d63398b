using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Models;
using Blip2Compiler.Processing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace Blip2Compiler.Tests.Golden;

/// <summary>
/// Seeded sweeps over what a user can pass (like the damage tests): random generation options, prompts and images,
/// each mostly ordinary values with a few odd ones (negative, zero, huge, NaN, ids outside the vocabulary). Every case
/// returns a result or throws a <see cref="Blip2Exception"/>; a native libtorch error (ExternalException) or any other
/// exception escaping fails the test with the case that caused it.
/// </summary>
public class GenerationSweepTests
{
    private const int Rounds = 30;

    [Theory]
    [InlineData("blip2-opt", 1)]
    [InlineData("blip2-flan-t5", 2)]
    public void RandomOptionsGiveAResultOrATypedError(string fixture, int seed)
    {
        using var g = new GoldenCase(fixture);
        using Blip2ModelBase model = fixture == "blip2-opt" ? GoldenOpt.Load(g.ModelDirectory) : GoldenFlanT5.Load(g.ModelDirectory);
        var random = new Random(seed);
        var vocab = model.ModelInfo.VocabSize;
        for (var round = 0; round < Rounds; round++)
        {
            var options = RandomOptions(random, vocab);
            Outcome($"round {round}: {Describe(options)}", () => model switch
            {
                OptConditionalGeneration opt => opt.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options),
                T5ConditionalGeneration t5 => t5.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options),
                _ => throw new InvalidOperationException(),
            });
        }
    }

    [Fact]
    public void RandomPromptsAndImagesThroughACaptionerGiveATextOrATypedError()
    {
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        // The fixture T5 reads 32×32 images; its tokenizer is the small Unigram fixture (800 pieces, more than the
        // model's 120: most words are outside the model's vocabulary, itself a case to report).
        var images = new Blip2ImageProcessor(ImageProcessorConfig.Default with { Height = 32, Width = 32 });
        var captioner = new Blip2Captioner(model, images, TokenizerLoader.Load(Fixtures.Golden("tokenizers/unigram_spm")));
        var random = new Random(3);
        for (var round = 0; round < 12; round++)
        {
            var prompt = RandomPrompt(random);
            var (image, size) = RandomImage(random);
            var options = random.Next(3) == 0 ? RandomOptions(random, model.ModelInfo.VocabSize) : new GenerationOptions { MaxNewTokens = 3 };
            Outcome($"round {round}: {size} image, prompt of {prompt?.Length} chars, {Describe(options)}", () => captioner.Caption([image], [prompt], options));
        }
    }

    // What the sweep found, kept as cases of their own.

    [Fact]
    public void SamplingWithEveryTokenBannedIsATypedError()
    {
        // no_repeat_ngram_size 1 bans every token already in the sequence; min_new_tokens keeps EOS banned too. After
        // about 110 new tokens the tiny vocabulary (120) is used up: every score is −inf, and torch.multinomial
        // fails natively ("probability tensor contains either inf, nan or element < 0"), in Hugging Face as here.
        using var g = new GoldenCase("blip2-opt");
        using var model = GoldenOpt.Load(g.ModelDirectory);
        var options = new GenerationOptions { MaxNewTokens = 117, MinNewTokens = 117, NoRepeatNgramSize = 1, DoSample = true, Seed = 1 };
        var error = Assert.Throws<SamplingException>(() => model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options));
        Assert.Equal(1, error.Samples);
    }

    [Fact]
    public void AnEosListAsLargeAsTheVocabularyIsATypedError()
    {
        // Beam search keeps (1 + #eos) × num_beams candidates out of num_beams × vocab: top-k / multinomial failed natively.
        using var g = new GoldenCase("blip2-flan-t5");
        using var model = GoldenFlanT5.Load(g.ModelDirectory);
        var all = Enumerable.Range(0, (int)model.ModelInfo.VocabSize).Select(i => (long)i).ToList();
        foreach (var sample in new[] { false, true })
        {
            var error = Assert.Throws<InvalidGenerationOptionException>(() => model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"],
                new GenerationOptions { NumBeams = 2, DoSample = sample, EosTokenIds = all, MaxNewTokens = 2 }));
            Assert.Equal("eos_token_id", error.Option);
        }
    }

    internal static GenerationOptions RandomOptions(Random random, long vocab)
    {
        // Each option is unset 60% of the time, else an ordinary value (first list) or, one time in four, an odd one
        // (second list): most runs are valid enough to decode, and every odd value meets ordinary company.
        T? Draw<T>(T[] ordinary, T[] odd) where T : struct =>
            random.Next(10) < 6 ? null : random.Next(4) == 0 ? odd[random.Next(odd.Length)] : ordinary[random.Next(ordinary.Length)];
        T Pick<T>(params T[] values) => values[random.Next(values.Length)];
        IReadOnlyList<long>[] oddEos = [[], [-1], [vocab], [50, 50, 50, 50], [.. Enumerable.Range(0, (int)vocab).Select(i => (long)i)]];
        return new GenerationOptions
        {
            // Mostly set, and small: an unset max_new_tokens decodes 20 tokens, and the sweep should take seconds.
            MaxNewTokens = random.Next(5) == 0 ? null : random.Next(4) == 0 ? Pick(-1, 0, 40_000, int.MaxValue) : Pick(1, 2, 4),
            MinNewTokens = Draw([0, 2, 3], [-1, 10, 1000]),
            MaxLength = Draw([3, 8, 15], [-5, 0, 1, 300]),
            MinLength = Draw([0, 5], [-1, 25, 1000]),
            NumBeams = Draw([1, 2, 3], [-1, 0, DecodingLimits.MaxBeams + 1, 100_000]),
            NumReturnSequences = Draw([1, 2], [0, 5, 200]),
            DoSample = Draw([true, false], [true]),
            Temperature = Draw([0.7, 1.0, 1.5], [0, -1, double.NaN, double.PositiveInfinity, 1e-6, 1e6]),
            TopK = Draw([0, 5, 50], [-1, 1, 1000, int.MaxValue]),
            TopP = Draw([0.5, 0.9, 1.0], [0, 1e-9, 1.5, double.NaN]),
            RepetitionPenalty = Draw([1.0, 1.3], [0, -1, 1e-9, 1e9, double.NaN, double.PositiveInfinity]),
            NoRepeatNgramSize = Draw([0, 2, 3], [-1, 1, 1000, int.MaxValue]),
            LengthPenalty = Draw([0.5, 1.0], [-2, double.NaN, double.PositiveInfinity]),
            EarlyStopping = Draw([EarlyStopping.True, EarlyStopping.False], [EarlyStopping.Never]),
            EosTokenIds = random.Next(10) < 8 ? null : random.Next(2) == 0 ? [0] : oddEos[random.Next(oddEos.Length)],
            PadTokenId = Draw([0L, 1L], [-1L, vocab, vocab + 1000]),
            DecoderStartTokenId = Draw([0L, 5L], [-1L, vocab]),
            Seed = Draw([0L, 7L], [-1L, long.MaxValue]),
        };
    }

    private static string? RandomPrompt(Random random) => random.Next(7) switch
    {
        0 => null,
        1 => "",
        2 => " \t\n ",
        // 1,000, not 10,000: Microsoft.ML.Tokenizers' Unigram takes ~2 minutes on 10,000 characters without a space.
        3 => new string('a', 1_000),
        4 => string.Concat(Enumerable.Range(0, 40).Select(_ => (char)random.Next(0, 32))),
        5 => "\uD800 unpaired \uFFFF surrogate \u0000",
        _ => string.Join(' ', Enumerable.Range(0, random.Next(1, 60)).Select(_ => "word" + random.Next(100))),
    };

    private static (ImageSource, string) RandomImage(Random random)
    {
        var (width, height) = random.Next(4) switch
        {
            0 => (1, 1),
            1 => (4000, 1),
            2 => (1, 3000),
            _ => (random.Next(1, 80), random.Next(1, 80)),
        };
        var image = new Image<Rgb24>(width, height);
        image[0, 0] = new Rgb24((byte)random.Next(256), 0, 0);
        return (ImageSource.FromImage(image), $"{width}×{height}");
    }

    internal static string Describe(GenerationOptions options) =>
        (options with { EosTokenIds = null }).ToString() +
        (options.EosTokenIds is { } eos ? $" eos [{string.Join(", ", eos.Take(5))}{(eos.Count > 5 ? $", … {eos.Count} ids" : "")}]" : "");

    /// <summary>Runs one case: a result or a Blip2Exception; anything else fails with the case's description.</summary>
    internal static void Outcome(string description, Func<object> run)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try { run(); }
        catch (Blip2Exception) { }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{description}\n{e.GetType().FullName}: {e.Message}");
        }
        finally { Console.Error.WriteLine($"{clock.ElapsedMilliseconds,6} ms  {description}"); }
    }
}
