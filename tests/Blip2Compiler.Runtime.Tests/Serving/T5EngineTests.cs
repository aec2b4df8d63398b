using Blip2Compiler.AI;
using Blip2Compiler.Generation;
using Blip2Compiler.Processing;
using Blip2Compiler.Serving;
using Blip2Compiler.Tests.Golden;

namespace Blip2Compiler.Tests.Serving;

/// <summary>
/// Flan-T5 requests through the engine (its sequential lane: encoder–decoder rows are not batched yet) give the
/// tokens of lone <c>Generate</c> calls, side by side with each other. The fixture checkpoint with the fixtures'
/// SentencePiece tokenizer (T5's special-id layout) and the tiny checkpoint's 32-pixel image processor.
/// </summary>
[Trait("Category", "Golden")]
public class T5EngineTests
{
    [Fact]
    public async Task ConcurrentT5RequestsGiveTheTokensOfLoneGenerateCalls()
    {
        using var model = GoldenFlanT5.Load(Fixtures.Golden("blip2-flan-t5") + "/model");
        var images = Blip2ImageProcessor.Load(Path.Combine(Fixtures.Root, "..", "..", "samples", "checkpoints", "blip2-tiny-opt"));
        var tokenizer = TokenizerLoader.Load(Fixtures.Golden("tokenizers") + "/unigram_spm");
        var captioner = new Blip2Captioner(model, images, tokenizer);
        var processor = new Blip2Processor(images, tokenizer, (int)model.ModelInfo.NumQueryTokens, (int?)model.ModelInfo.ImageTokenIndex);
        GenerationOptions[] options =
        [
            new() { MaxNewTokens = 6 },
            new() { MaxNewTokens = 9, DoSample = true, Seed = 4, TopK = 10 },
            new() { MaxNewTokens = 5, NumBeams = 3, NumReturnSequences = 2 },
            new() { MaxNewTokens = 8, RepetitionPenalty = 1.3 },
        ];
        var requests = options.Select((o, i) => new EngineRequest { Image = ServingModels.Image(i), Options = o }).ToList();
        await using var engine = new ContinuousBatchingEngine(captioner);
        var completions = await Task.WhenAll(requests.Select(r => engine.GenerateAsync(r)));
        for (var i = 0; i < requests.Count; i++)
        {
            var inputs = processor.Process([requests[i].Image], [null]);
            var lone = model.Generate(inputs.PixelValues, inputs.InputIds, inputs.AttentionMask, options[i]).NewTokens;
            for (var r = 0; r < completions[i].Sequences.Count; r++)
            {
                var expected = lone[r].TakeWhile((_, k) => k == 0 || lone[r][k - 1] != 1).ToArray();   // up to EOS (id 1)
                Assert.Equal(expected, completions[i].Sequences[r].Tokens);
            }
            Assert.Equal(options[i].NumReturnSequences ?? 1, completions[i].Sequences.Count);
            if (options[i].NumBeams is null)
                Assert.Equal(captioner.Caption([requests[i].Image], null, options[i])[0], completions[i].Sequences[0].Text);
        }
    }
}
