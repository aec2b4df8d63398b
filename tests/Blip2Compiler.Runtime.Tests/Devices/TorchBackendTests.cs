namespace Blip2Compiler.Tests.Devices;

/// <summary>
/// The error paths of choosing a libtorch. Each fails before anything is loaded, so the process keeps the libtorch
/// package it runs on. (Loading a real external folder cannot be tested in a process that ships libtorch where .NET
/// probes: that is exactly what it refuses. The CLI keeps its libtorch aside and is tested doing it: LibTorchChoiceTests.)
/// </summary>
public class TorchBackendTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "blip2-libtorch-" + Guid.NewGuid().ToString("N"));

    public TorchBackendTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A lib folder holding empty files with these library names.</summary>
    private string Folder(params string[] libraries)
    {
        var lib = Path.Combine(_root, "torch", "lib");
        Directory.CreateDirectory(lib);
        foreach (var name in libraries) File.WriteAllBytes(Path.Combine(lib, name), []);
        return lib;
    }

    [Fact]
    public void FolderThatDoesNotExist()
    {
        var folder = Path.Combine(_root, "nowhere");
        var e = Assert.Throws<LibTorchLoadException>(() => TorchBackend.Initialize(folder));
        Assert.Equal(folder, e.Folder);
        Assert.Contains(folder, e.Message);
        Assert.Contains("does not exist (from --libtorch)", e.Message);
    }

    [Fact]
    public void FolderWithoutLibTorchNamesWhatIsMissing()
    {
        var folder = Folder("libc10.so");
        var e = Assert.Throws<LibTorchLoadException>(() => TorchBackend.Initialize(folder));
        Assert.Contains(folder, e.Message);
        Assert.Contains("lacks libtorch_cpu.so, libtorch.so", e.Message);
    }

    [Fact]
    public void FolderWithAnotherLibTorchVersion()
    {
        var folder = Folder("libc10.so", "libtorch_cpu.so", "libtorch.so");
        File.WriteAllText(Path.Combine(_root, "torch", "version.py"), "__version__ = '2.3.1+cu121'\ngit_version = 'abc'\n");
        var e = Assert.Throws<LibTorchLoadException>(() => TorchBackend.CheckFolder(folder, TorchBackend.EnvironmentVariable));
        Assert.Contains("holds libtorch 2.3.1+cu121 (from BLIP2_LIBTORCH), but TorchSharp needs 2.10.x or 2.11.x", e.Message);
    }

    [Fact]
    public void MatchingVersionPassesTheFolderCheck()
    {
        var folder = Folder("libc10.so", "libtorch_cpu.so", "libtorch.so");
        File.WriteAllText(Path.Combine(_root, "torch", "version.py"), "__version__ = '2.10.0+cu128'\n");
        Assert.Equal(folder, TorchBackend.CheckFolder(folder + Path.DirectorySeparatorChar, "--libtorch"));
    }

    [Fact]
    public void ASecondLibTorchIsRefusedBeforeLoading()
    {
        // This test process runs on the libtorch-cpu package: another folder would be a second copy.
        var folder = Folder("libc10.so", "libtorch_cpu.so", "libtorch.so");
        var e = Assert.Throws<LibTorchLoadException>(() => TorchBackend.Initialize(folder));
        Assert.Equal(folder, e.Folder);
        Assert.Matches("already loaded|ships its own libtorch", e.Message);
    }

    [Fact]
    public void ArgumentThenEnvironmentVariable()
    {
        Assert.Equal(("/a", "--libtorch"), TorchBackend.ResolveFolder("/a", "/b"));
        Assert.Equal(("/b", "BLIP2_LIBTORCH"), TorchBackend.ResolveFolder(null, "/b"));
        Assert.Equal(("/b", "BLIP2_LIBTORCH"), TorchBackend.ResolveFolder(" ", "/b"));
        Assert.Null(TorchBackend.ResolveFolder(null, "").Folder);
    }

    [Fact]
    public void TheApplicationsAsideFolderComesLast()
    {
        Assert.Equal(("/a", "--libtorch"), TorchBackend.ResolveFolder("/a", "/b", "/app/libtorch"));
        Assert.Equal(("/b", "BLIP2_LIBTORCH"), TorchBackend.ResolveFolder(null, "/b", "/app/libtorch"));
        Assert.Equal(("/app/libtorch", TorchBackend.ApplicationOrigin), TorchBackend.ResolveFolder(null, null, "/app/libtorch"));
    }

    [Fact]
    public void TheAsideFolderIsThePlatformsOwnWhereABuildKeptSeveral()
    {
        Assert.Null(TorchBackend.ApplicationFolder(new LibTorchLayout(null, "cpu"), _root));
        var aside = new LibTorchLayout("libtorch", null);
        Assert.Equal(Path.Combine(_root, "libtorch"), TorchBackend.ApplicationFolder(aside, _root));
        var platform = Path.Combine(_root, "libtorch", "runtimes", TorchBackend.PlatformRid(), "native");
        Directory.CreateDirectory(platform);
        Assert.Equal(platform, TorchBackend.ApplicationFolder(aside, _root));
        Assert.Matches("^(linux|osx|win)-(x64|arm64)$", TorchBackend.PlatformRid());
    }

    [Fact]
    public void ThisTestHostIsARepositoryBuildThatProbesItsLibTorch()
    {
        // Directory.Build.targets records Blip2Backend in runtimeconfig.json; only the CLI keeps its libtorch aside.
        Assert.Equal("cpu", LibTorchLayout.Current.RepositoryBackend);
        Assert.False(LibTorchLayout.Current.Aside);
    }

    [Fact]
    public void InitializeIsIdempotent()
    {
        TorchBackend.Initialize();
        TorchBackend.Initialize();
        Assert.Null(TorchBackend.LibTorchFolder);
    }
}
