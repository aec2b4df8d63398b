using System.Text.Json.Nodes;

namespace Blip2Compiler.Tests.CommandLine;

/// <summary>
/// Every command that generates says which generation_config.json keys it ignores (a note on stderr, once per run;
/// none with --quiet): caption and ask did, chat and job caption now do too (blip2 serve: Server.Tests' ServeStartupTests).
/// </summary>
public class GenerationConfigNoteTests
{
    private const string Note = "blip2: note: generation_config.json: unknown key `blip2_test_unknown_key` (not a Hugging Face generation option); it is ignored";

    private static string CheckpointWithAnUnknownKey(TempFolder temp)
    {
        var folder = temp.CopyOf(CliRun.TinyOpt);
        var path = Path.Combine(folder, "generation_config.json");
        var generation = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        generation["blip2_test_unknown_key"] = 1;
        File.WriteAllText(path, generation.ToJsonString());
        return folder;
    }

    [Fact]
    public async Task ChatAndJobCaptionPrintTheNotesOnce()
    {
        using var temp = new TempFolder();
        var model = CheckpointWithAnUnknownKey(temp);
        var chat = await CliRun.RunWithStdin(() => new MemoryStream("what is it?\nwhy?\n"u8.ToArray()), "chat", CliRun.Photo, "--model", model, "--max-new-tokens", "2");
        Assert.True(chat.ExitCode == 0, chat.Error);
        Assert.Single(chat.ErrorLines, line => line == Note);

        var job = await CliRun.Run("job", "caption", CliRun.Photo, "--output-dir", temp.File("parts"), "--model", model, "--max-new-tokens", "2");
        Assert.True(job.ExitCode == 0, job.Error);
        Assert.Single(job.ErrorLines, line => line == Note);

        var quiet = await CliRun.RunWithStdin(() => new MemoryStream("what is it?\n"u8.ToArray()), "chat", CliRun.Photo, "--model", model, "--max-new-tokens", "2", "-q");
        Assert.DoesNotContain(quiet.ErrorLines, line => line.Contains("blip2_test_unknown_key", StringComparison.Ordinal));
    }
}
