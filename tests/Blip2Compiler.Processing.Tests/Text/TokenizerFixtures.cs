using System.Text.Json;
using System.Text.Json.Nodes;

namespace Blip2Compiler.Tests.Text;

/// <summary>The tokenizer reference cases of tests/fixtures/golden/tokenizers/expected.json, and scratch checkpoint folders.</summary>
internal static class TokenizerFixtures
{
    public static string Root => Fixtures.Golden("tokenizers");

    public static JsonElement Expected { get; } = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "expected.json"))).RootElement;

    public static IReadOnlyList<string> Texts => [.. Expected.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!)];

    /// <summary>Every case of expected.json: the properties that hold encodings.</summary>
    public static IEnumerable<string> Cases =>
        Expected.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("encodings", out _)).Select(p => p.Name);

    public static JsonElement Encoding(string @case, int textIndex) => Expected.GetProperty(@case).GetProperty("encodings")[textIndex];

    public static int[] Ids(JsonElement encoding, string key = "ids") => [.. encoding.GetProperty(key).EnumerateArray().Select(i => i.GetInt32())];

    /// <summary>(case, text index) for every text of every case.</summary>
    public static TheoryData<string, int> AllTexts()
    {
        var data = new TheoryData<string, int>();
        foreach (var @case in Cases)
            for (int i = 0; i < Expected.GetProperty(@case).GetProperty("encodings").GetArrayLength(); i++)
                data.Add(@case, i);
        return data;
    }

    /// <summary>A fresh folder with copies of a fixture case's files.</summary>
    public static ScratchDir CopyOf(string @case)
    {
        var dir = new ScratchDir();
        foreach (var file in Directory.GetFiles(Path.Combine(Root, @case)))
            File.Copy(file, Path.Combine(dir.Path, System.IO.Path.GetFileName(file)));
        return dir;
    }

    /// <summary>OPT's tokenizer_config.json as published, with the &lt;image&gt; token BLIP-2 checkpoints add after the vocabulary.</summary>
    public static ScratchDir OptCheckpoint(int imageTokenId = 50265)
    {
        var dir = CopyOf("opt");
        dir.Write("tokenizer_config.json", new JsonObject
        {
            ["add_bos_token"] = true,
            ["bos_token"] = "</s>",
            ["eos_token"] = "</s>",
            ["unk_token"] = "<unk>",
            ["pad_token"] = "<pad>",
            ["added_tokens_decoder"] = new JsonObject
            {
                [imageTokenId.ToString()] = new JsonObject
                {
                    ["content"] = "<image>", ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false, ["special"] = true,
                },
            },
            ["tokenizer_class"] = "GPT2Tokenizer",
        }.ToJsonString());
        return dir;
    }
}

/// <summary>A temporary folder deleted at dispose.</summary>
internal sealed class ScratchDir : IDisposable
{
    public ScratchDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "blip2-tok-" + Guid.NewGuid().ToString("N"));

    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    public string Write(string name, byte[] bytes)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(file, bytes);
        return file;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
