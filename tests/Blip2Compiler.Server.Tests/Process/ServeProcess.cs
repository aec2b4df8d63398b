using System.ClientModel;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using OpenAI;

namespace Blip2Compiler.Server.Tests.Process;

/// <summary>
/// A real <c>blip2 serve</c> child process (the CLI built next to the tests) on a free loopback port (--port 0; the
/// address is read from its stdout). Starting one costs seconds, so test classes share one.
/// </summary>
public sealed partial class ServeProcess : IAsyncDisposable
{
    private readonly System.Diagnostics.Process _process;
    private readonly StringBuilder _stderr = new();

    private ServeProcess(System.Diagnostics.Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }
    public string Errors { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int Id => _process.Id;

    private static readonly string CliOutput = typeof(ServeProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "CliOutput").Value!;

    public static Task<ServeProcess> StartAsync(params string[] args) => StartAsync(environment: [], args);

    /// <summary><see cref="StartAsync(string[])"/> with environment variables set for the server process.</summary>
    public static async Task<ServeProcess> StartAsync((string Name, string Value)[] environment, params string[] args)
    {
        // The CLI's own output, not the copy in this test's folder: its runtimeconfig names the libtorch folder the
        // tool keeps aside there (Blip2LibTorchAside), which this folder does not have.
        var apphost = Path.Combine(CliOutput, "Blip2.Cli");
        var start = File.Exists(apphost)
            ? new ProcessStartInfo(apphost)
            : new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { ArgumentList = { Path.Combine(CliOutput, "Blip2.Cli.dll") } };
        foreach (var a in (string[])["serve", "--port", "0", .. args]) start.ArgumentList.Add(a);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("blip2 serve did not start");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                ?? throw new InvalidOperationException($"blip2 serve exited ({(process.WaitForExit(5000) ? process.ExitCode : -1)}) before printing its address:\n{stderr}");
            if (Listening().Match(line) is { Success: true } m)
            {
                var server = new ServeProcess(process, new Uri(m.Groups[1].Value));
                lock (stderr) server._stderr.Append(stderr);
                process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (server._stderr) server._stderr.AppendLine(e.Data); };
                _ = process.StandardOutput.ReadToEndAsync();
                return server;
            }
        }
    }

    [GeneratedRegex(@"^blip2: serving \S+ on (http://127\.0\.0\.1:\d+)$")]
    private static partial Regex Listening();

    public OpenAIClient OpenAI(string key) => new(new ApiKeyCredential(key), new OpenAIClientOptions
    {
        Endpoint = new Uri(Address, "/v1"),
        NetworkTimeout = TimeSpan.FromSeconds(300),
    });

    public HttpClient Http(string? key = null)
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(300) };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>Sends SIGTERM (what a service manager or `docker stop` sends).</summary>
    public void Terminate()
    {
        if (!_process.HasExited && kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill failed: {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>The exit code, waiting at most <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Terminate();
            try { await WaitForExitAsync(TimeSpan.FromSeconds(30)); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        _process.Dispose();
    }
}
