using System.Net;
using Blip2Compiler.Server.Tests.Http;

namespace Blip2Compiler.Server.Tests.Process;

/// <summary>
/// `blip2 serve` copies its weights unless told <c>--zero-copy</c>: a server whose checkpoint file is overwritten in
/// place (truncated, then rewritten, as <c>cp</c> over it does) keeps answering, where a mapped parameter would take the
/// process down with SIGBUS. Observed from outside, on real processes: the file's mappings in /proc/PID/maps (with the
/// loader's smallest mapped tensor lowered to 4 KiB, so that the tiny checkpoint would be mapped).
/// </summary>
public sealed class ServeZeroCopyTests
{
    // The tiny checkpoint's tensors are under the 1 MiB the loader maps from; at 4 KiB most of its bytes would be mapped.
    private static readonly (string, string)[] MapSmallTensors = [("BLIP2_ZERO_COPY_MIN_BYTES", "4096")];

    private static string CopyCheckpoint()
    {
        var folder = Path.Combine(Path.GetTempPath(), "blip2-serve-zero-copy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(TinyModels.TinyOpt)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    private static bool MapsWeights(ServeProcess server, string folder) =>
        File.ReadLines($"/proc/{server.Id}/maps").Any(l => l.Contains(Path.Combine(folder, "model.safetensors"), StringComparison.Ordinal));

    [Fact]
    public async Task ByDefaultTheWeightsAreCopiedAndAServerOutlivesItsCheckpointOverwrittenInPlace()
    {
        var folder = CopyCheckpoint();
        try
        {
            await using var server = await ServeProcess.StartAsync(MapSmallTensors, "--model", folder);
            Assert.False(MapsWeights(server, folder), "serve mapped model.safetensors without --zero-copy");
            // What `cp other model.safetensors` does to the file a server loaded: truncated to nothing, then rewritten.
            var weights = Path.Combine(folder, "model.safetensors");
            var bytes = await File.ReadAllBytesAsync(weights);
            await using (var stream = new FileStream(weights, FileMode.Truncate)) { }
            using var http = server.Http();
            using var answer = await http.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat(4)));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            await File.WriteAllBytesAsync(weights, bytes);
            Assert.False(server.HasExited, server.Errors);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task WithZeroCopyTheLargeParametersAreTheFilesPages()
    {
        var folder = CopyCheckpoint();
        try
        {
            await using var server = await ServeProcess.StartAsync(MapSmallTensors, "--model", folder, "--zero-copy");
            Assert.True(MapsWeights(server, folder), "serve --zero-copy mapped nothing of model.safetensors");
            using var http = server.Http();
            using var answer = await http.PostAsync("/v1/chat/completions", Requests.Json(Requests.Chat(4)));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }
}
