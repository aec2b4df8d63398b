using System.Text.Json;
using Blip2Compiler.Generation;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Tests.Golden;

/// <summary>Token-for-token `generate` against the reference, for every generate.* case the fixture lists.</summary>
[Trait("Category", "Golden")]
public class GenerationGoldenTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in new[] { "blip2-opt", "blip2-flan-t5" })
        {
            using var g = new GoldenCase(fixture);
            foreach (var p in g.Meta.EnumerateObject())
                if (p.Name.StartsWith("generate.", StringComparison.Ordinal)) data.Add(fixture, p.Name);
            if (g.Has("generate.noprompt_greedy")) data.Add(fixture, "generate.noprompt_greedy");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SequencesMatchReference(string fixture, string key)
    {
        using var g = new GoldenCase(fixture);
        // The no-prompt case uses the greedy options; the reference builds its own prompt.
        var options = Options(g.Meta.GetProperty(key == "generate.noprompt_greedy" ? "generate.greedy" : key));
        var expected = g[key];
        GenerationResult result;
        if (fixture == "blip2-opt")
        {
            using var model = GoldenOpt.Load(g.ModelDirectory);
            result = key == "generate.noprompt_greedy"
                ? model.Generate(g["pixel_values"], options: options)
                : model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options);
        }
        else
        {
            using var model = GoldenFlanT5.Load(g.ModelDirectory);
            result = model.Generate(g["pixel_values"], g["input_ids"], g["attention_mask"], options);
        }
        TensorAssert.Equal(expected, ToTensor(result.Sequences), $"{fixture} {key}");
    }

    internal static GenerationOptions Options(JsonElement json)
    {
        var o = new GenerationOptions();
        foreach (var p in json.EnumerateObject())
        {
            o = p.Name switch
            {
                "max_new_tokens" => o with { MaxNewTokens = p.Value.GetInt32() },
                "min_new_tokens" => o with { MinNewTokens = p.Value.GetInt32() },
                "num_beams" => o with { NumBeams = p.Value.GetInt32() },
                "do_sample" => o with { DoSample = p.Value.GetBoolean() },
                "length_penalty" => o with { LengthPenalty = p.Value.GetDouble() },
                "repetition_penalty" => o with { RepetitionPenalty = p.Value.GetDouble() },
                "no_repeat_ngram_size" => o with { NoRepeatNgramSize = p.Value.GetInt32() },
                "num_return_sequences" => o with { NumReturnSequences = p.Value.GetInt32() },
                _ => throw new InvalidOperationException("fixture option not mapped: " + p.Name),
            };
        }
        return o;
    }

    internal static Tensor ToTensor(long[][] rows)
    {
        var width = rows.Max(r => r.Length);
        var flat = rows.SelectMany(r => r.Concat(Enumerable.Repeat(-1L, width - r.Length))).ToArray();
        return torch.tensor(flat, rows.Length, width);
    }
}
