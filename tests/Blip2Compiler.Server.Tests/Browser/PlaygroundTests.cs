using System.Diagnostics;
using System.Text.Json;
using Blip2Compiler.Processing;
using Blip2Compiler.Server.Tests.Process;

namespace Blip2Compiler.Server.Tests.Browser;

/// <summary>
/// The playground page of a real `blip2 serve` in Debian's headless chromium, driven by Playwright (playground.mjs):
/// pick an image, caption (streamed), ask; the page shows what a lone Blip2Captioner call gives.
/// </summary>
public class PlaygroundTests
{
    private static readonly string Folder = Path.Combine(TinyModels.RepoRoot, "tests", "Blip2Compiler.Server.Tests", "Browser");

    [BrowserFact]
    public async Task ThePageCaptionsAndAnswersWhatTheModelGives()
    {
        await using var server = await ServeProcess.StartAsync();
        using var models = new TinyModels();
        var image = Path.Combine(Path.GetTempPath(), $"blip2-playground-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(image, TinyModels.Photo);
        try
        {
            var start = new ProcessStartInfo("node") { WorkingDirectory = Folder, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "playground.mjs", server.Address.ToString(), image, "what is it?" }) start.ArgumentList.Add(a);
            using var node = System.Diagnostics.Process.Start(start)!;
            var stdout = node.StandardOutput.ReadToEndAsync();
            var stderr = node.StandardError.ReadToEndAsync();
            await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
            Assert.True(node.ExitCode == 0, $"playground.mjs failed ({node.ExitCode}):\n{await stderr}\n{await stdout}");
            var page = JsonDocument.Parse(await stdout).RootElement;

            var photo = ImageSource.FromBytes(TinyModels.Photo, "astronaut.png");
            Assert.Equal(models.Captioner.Caption([photo], [null], new() { MaxNewTokens = 8 })[0], page.GetProperty("caption").GetString());
            Assert.Equal(models.Captioner.Caption([photo], ["Question: what is it? Answer:"], new() { MaxNewTokens = 8 })[0], page.GetProperty("answer").GetString());
            Assert.True(page.GetProperty("pieces").GetInt32() > 1, "the caption arrived in one piece, not streamed");
            Assert.Equal("", page.GetProperty("error").GetString());
            Assert.Equal(0, page.GetProperty("errors").GetArrayLength());
            Assert.Contains("blip2-tiny-opt", page.GetProperty("model").GetString());
        }
        finally
        {
            File.Delete(image);
        }
    }
}

/// <summary>
/// A test that needs Debian's chromium and the npm packages of Browser/ (.ci/run installs both); on a developer's
/// machine without them it is skipped, saying why; under CI it always runs.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        // CI (.ci/run, CI=true) installs both, so there the test always runs: a missing browser fails it, never skips it.
        if (Environment.GetEnvironmentVariable("CI") == "true") return;
        var chromium = Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium";
        var playwright = Path.Combine(TinyModels.RepoRoot, "tests", "Blip2Compiler.Server.Tests", "Browser", "node_modules", "playwright-core");
        if (!File.Exists(chromium)) Skip = $"no browser at {chromium}: apt-get install -y chromium (what .ci/run does)";
        else if (!Directory.Exists(playwright)) Skip = "playwright-core is not installed: npm ci --prefix tests/Blip2Compiler.Server.Tests/Browser (what .ci/run does)";
    }
}
