using TorchSharp;

namespace Blip2Compiler.Tests.Golden;

/// <summary>samples/Consumer/README.md quotes the program's output; the program's forward pass, run here on the same
/// config (the fixture's), must print exactly that line.</summary>
public class ConsumerReadmeTests
{
    [Fact]
    public void TheReadmeQuotesTheLogitsShapeTheProgramPrints()
    {
        var consumer = Path.Combine(Fixtures.Root, "..", "..", "samples", "Consumer");
        Assert.Equal(File.ReadAllText(Path.Combine(Fixtures.Golden("blip2-opt"), "model", "config.json")), File.ReadAllText(Path.Combine(consumer, "config.json")));

        // As Program.cs: 2 images, a prompt of 6 image tokens + BOS + 3 text ids.
        using var model = GoldenOpt.Load(Path.Combine(Fixtures.Golden("blip2-opt"), "model"));
        var pixels = torch.randn(2, 3, GoldenOpt.Info.ImageSize, GoldenOpt.Info.ImageSize);
        long[] row = [.. Enumerable.Repeat(GoldenOpt.Info.ImageTokenIndex!.Value, (int)GoldenOpt.Info.NumQueryTokens), GoldenOpt.Info.BosTokenId!.Value, 10, 11, 12];
        var ids = torch.tensor(row).unsqueeze(0).repeat(2, 1);
        var printed = $"logits shape: [{string.Join(", ", model.Forward(pixels, ids).Logits.shape)}]";

        Assert.Contains("# " + printed, File.ReadAllText(Path.Combine(consumer, "README.md")));
    }
}
