using System.Text.Json;

namespace Blip2Compiler.Tests.Images;

/// <summary>The image-processor fixture: the files meta.json lists, their options, and the reference tensors.</summary>
internal static class ImageGolden
{
    public static string Dir => Fixtures.Golden("image-processor");

    public static IEnumerable<object[]> Files()
    {
        using var meta = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "meta.json")));
        return meta.RootElement.GetProperty("files").EnumerateArray().Select(f => new object[] { f.GetString()! }).ToList();
    }

    public static JsonElement ProcessorOptions()
    {
        using var meta = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "meta.json")));
        return meta.RootElement.GetProperty("processor").Clone();
    }

    private static GoldenTensors? _expected;
    public static GoldenTensors Expected => _expected ??= new GoldenTensors(Path.Combine(Dir, "expected.safetensors"));

    public static bool IsJpeg(string file) =>
        file.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase);

    /// <summary>Max and mean absolute difference.</summary>
    public static (double Max, double Mean) Diff(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0, sum = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var d = Math.Abs((double)actual[i] - expected[i]);
            max = Math.Max(max, d);
            sum += d;
        }
        return (max, sum / actual.Length);
    }
}
