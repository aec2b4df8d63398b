using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TorchSharp;

namespace Blip2Compiler;

/// <summary>
/// Picks the native libtorch before anything touches TorchSharp: the application's libtorch package (the default),
/// or an external libtorch lib folder (<c>--libtorch</c>, or the <c>BLIP2_LIBTORCH</c> environment variable), such as
/// a Python install's <c>site-packages/torch/lib</c> with its CUDA build.
/// </summary>
/// <remarks>
/// How TorchSharp 0.107 finds libtorch (src/TorchSharp/Torch.cs, <c>LoadNativeBackend</c>): the static constructor of
/// <c>torch</c> already runs it, and it calls <c>NativeLibrary.TryLoad("torch_cpu" / "torch_cuda", assembly)</c> and
/// then <c>"LibTorchSharp"</c>. Those by-name loads probe the application's native folders (deps.json) first and never
/// consult a <c>NativeLibrary.SetDllImportResolver</c> callback (that hook only sees <c>[DllImport]</c>s, i.e.
/// LibTorchSharp itself), and <c>torch.InitializeDeviceType</c> goes through the same probing, so neither is a hook.
/// What works is the dynamic loader: this class loads the folder's libc10, libc10_cuda, libtorch_cpu, libtorch_cuda
/// and libtorch by full path, in dependency order, before the first TorchSharp call. TorchSharp's later by-name loads
/// and LibTorchSharp's own dependencies then resolve, by soname, to those libraries already in the process; the CUDA
/// libraries they need (cudart, cuBLAS, cuDNN) come through their RPATH, as in Python. Only the TorchSharp-built
/// LibTorchSharp comes from the application, so the folder's libtorch must be the version TorchSharp was built for.
/// An application that also ships a libtorch package where .NET probes would load a second copy from its own folder,
/// which aborts the process (duplicate operator registrations); that is detected here and refused (LibTorchAdvice says
/// what to change). An application built with <c>Blip2LibTorchAside</c> (the blip2 tool) keeps its packaged libtorch in
/// <c>&lt;app&gt;/libtorch/</c>, out of .NET's probing: this class loads that folder the same way, by full path, when no
/// other is named, so an external folder is always the only libtorch in the process.
/// </remarks>
public static class TorchBackend
{
    public const string EnvironmentVariable = "BLIP2_LIBTORCH";

    /// <summary>The libtorch major.minor TorchSharp (Directory.Packages.props) is built against.</summary>
    public const string ExpectedLibTorchVersion = "2.10";

    /// <summary>
    /// Versions an external libtorch may have: TorchSharp 0.107's native layer was checked against a Python torch 2.11
    /// install's lib/ with CUDA, besides its own 2.10.
    /// </summary>
    public static readonly IReadOnlyList<string> CompatibleLibTorchVersions = ["2.10", "2.11"];

    private static readonly string[] Required = ["c10", "torch_cpu", "torch"];

    // Dependency order: each library's NEEDED entries are loaded before it.
    private static readonly (string Stem, bool Optional)[] LoadOrder =
        [("c10", false), ("c10_cuda", true), ("torch_cpu", false), ("torch_cuda", true), ("torch", false)];

    private static readonly Lock Gate = new();
    private static bool _initialized;
    private static string? _folder;
    private static string _origin = "";

    /// <summary>
    /// The folder libtorch was loaded from by full path (an external one, or the application's aside folder), or null
    /// when .NET's probing found the application's libtorch package.
    /// </summary>
    public static string? LibTorchFolder
    {
        get { lock (Gate) return _folder; }
    }

    /// <summary>The folder in use when the user named it (argument or BLIP2_LIBTORCH), else null.</summary>
    internal static string? UserFolder
    {
        get { lock (Gate) return _origin is "" or ApplicationOrigin ? null : _folder; }
    }

    /// <summary>
    /// Loads libtorch once per process; later calls return at once. <paramref name="libtorchFolder"/> (else
    /// <c>BLIP2_LIBTORCH</c>, else the application's aside libtorch folder, else the application's package) names a
    /// folder holding libc10, libtorch_cpu and libtorch (and libtorch_cuda for CUDA).
    /// </summary>
    public static void Initialize(string? libtorchFolder = null)
    {
        lock (Gate)
        {
            if (_initialized && libtorchFolder is null) return;
            var (requested, origin) = ResolveFolder(libtorchFolder, Environment.GetEnvironmentVariable(EnvironmentVariable),
                ApplicationFolder(LibTorchLayout.Current, AppContext.BaseDirectory));
            if (requested is not null) requested = CheckFolder(requested, origin);
            if (_initialized)
            {
                if (requested is null || SamePath(requested, _folder)) return;
                throw new LibTorchLoadException(requested, _folder is null
                    ? "libtorch was already loaded from the application's package; call TorchBackend.Initialize with the folder before any other torch use"
                    : $"libtorch was already loaded from '{_folder}'; a process holds one libtorch");
            }
            if (requested is null) Start("(the application's libtorch package)", LibTorchLayout.Current);
            else LoadFolder(requested);
            _folder = requested;
            _origin = origin;
            _initialized = true;
        }
    }

    /// <summary>
    /// The folder to use and where it came from: the argument, else the environment variable, else the application's
    /// aside folder, else none (the application's package, found by .NET's probing).
    /// </summary>
    internal static (string? Folder, string Origin) ResolveFolder(string? argument, string? environment, string? application = null) =>
        !string.IsNullOrWhiteSpace(argument) ? (argument, "--libtorch")
        : !string.IsNullOrWhiteSpace(environment) ? (environment, EnvironmentVariable)
        : application is not null ? (application, ApplicationOrigin)
        : (null, "");

    internal const string ApplicationOrigin = "the application's libtorch folder";

    /// <summary>
    /// The application's aside libtorch folder (Blip2LibTorchAside): <c>&lt;app&gt;/libtorch/</c>, or its
    /// <c>runtimes/&lt;rid&gt;/native/</c> where the build was portable and kept each platform's files apart.
    /// </summary>
    internal static string? ApplicationFolder(LibTorchLayout layout, string baseDirectory)
    {
        if (!layout.Aside) return null;
        var root = Path.Combine(baseDirectory, layout.AsideFolder!);
        var perPlatform = Path.Combine(root, "runtimes", PlatformRid(), "native");
        return Directory.Exists(perPlatform) ? perPlatform : root;
    }

    /// <summary>The portable runtime identifier TorchSharp's packages are laid out by (linux-x64, osx-arm64, win-x64, ...).</summary>
    internal static string PlatformRid()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        return $"{os}-{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";
    }

    /// <summary>Checks, without loading anything, that a folder looks like a usable libtorch lib folder.</summary>
    internal static string CheckFolder(string folder, string origin)
    {
        var from = origin.Length > 0 ? $" (from {origin})" : "";
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        if (!Directory.Exists(full))
            throw new LibTorchLoadException(folder, $"does not exist{from}");
        var missing = Required.Select(LibraryFile).Where(f => !File.Exists(Path.Combine(full, f))).ToList();
        if (missing.Count > 0)
            throw new LibTorchLoadException(folder, $"lacks {string.Join(", ", missing)}{from}; expected the lib folder of a " +
                "libtorch install, e.g. <python>/site-packages/torch/lib or libtorch/lib");
        var version = InstalledVersion(full);
        if (version is not null && !CompatibleLibTorchVersions.Any(v => version.StartsWith(v + ".", StringComparison.Ordinal)))
            throw new LibTorchLoadException(folder, $"holds libtorch {version}{from}, but TorchSharp needs {string.Join(" or ", CompatibleLibTorchVersions.Select(v => v + ".x"))}");
        return full;
    }

    private static void LoadFolder(string folder)
    {
        var shipped = ShippedLibTorch(folder);
        if (shipped is not null)
            throw new LibTorchLoadException(folder, LibTorchAdvice.SecondCopy(LibTorchLayout.Current, shipped));
        var loaded = LoadedLibTorch();
        if (loaded is not null && !SamePath(Path.GetDirectoryName(loaded), folder))
            throw new LibTorchLoadException(folder, $"libtorch was already loaded from {loaded}; call TorchBackend.Initialize before any other torch use");

        foreach (var (stem, optional) in LoadOrder)
        {
            var path = Path.Combine(folder, LibraryFile(stem));
            if (optional && !File.Exists(path)) continue;
            try
            {
                NativeLibrary.Load(path);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new LibTorchLoadException(folder, $"cannot load {LibraryFile(stem)}: {e.Message}", e);
            }
        }
        Start(folder, LibTorchLayout.Current);
    }

    /// <summary>Lets TorchSharp load LibTorchSharp (against whatever libtorch is now in the process).</summary>
    private static void Start(string folder, LibTorchLayout layout)
    {
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
        }
        catch (Exception e) when (e is NotSupportedException or TypeInitializationException or DllNotFoundException
                                      or EntryPointNotFoundException or InvalidOperationException)
        {
            throw new LibTorchLoadException(folder, $"TorchSharp could not start on it ({LibTorchAdvice.Missing(layout)}): " +
                FirstLine(e.GetBaseException().Message), e);
        }
    }

    /// <summary>A libtorch_cpu the application would load from its own folders, other than the one in <paramref name="folder"/>.</summary>
    private static string? ShippedLibTorch(string folder)
    {
        var searched = (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(AppContext.BaseDirectory);
        return searched.Select(d => Path.Combine(d, LibraryFile("torch_cpu")))
            .FirstOrDefault(p => File.Exists(p) && !SamePath(Path.GetDirectoryName(Path.GetFullPath(p)), folder));
    }

    /// <summary>The libtorch_cpu already mapped into this process, if any.</summary>
    private static string? LoadedLibTorch()
    {
        using var process = Process.GetCurrentProcess();
        return process.Modules.Cast<ProcessModule>().Select(m => m.FileName)
            .FirstOrDefault(f => Path.GetFileName(f) == LibraryFile("torch_cpu"));
    }

    /// <summary>The version a Python install (torch/version.py) or a libtorch archive (build-version) records.</summary>
    internal static string? InstalledVersion(string folder)
    {
        var parent = Path.GetDirectoryName(folder);
        if (parent is null) return null;
        var python = Path.Combine(parent, "version.py");
        if (File.Exists(python))
        {
            var match = Regex.Match(File.ReadAllText(python), @"^__version__\s*=\s*['""]([^'""]+)['""]", RegexOptions.Multiline);
            if (match.Success) return match.Groups[1].Value;
        }
        var archive = Path.Combine(parent, "build-version");
        return File.Exists(archive) ? File.ReadAllText(archive).Trim() : null;
    }

    // TorchSharp's own message carries a page-long load trace (kept in the inner exception).
    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    private static string LibraryFile(string stem) =>
        OperatingSystem.IsWindows() ? stem + ".dll" : OperatingSystem.IsMacOS() ? $"lib{stem}.dylib" : $"lib{stem}.so";

    private static bool SamePath(string? a, string? b) =>
        a is not null && b is not null
        && string.Equals(Path.TrimEndingDirectorySeparator(a), Path.TrimEndingDirectorySeparator(b), StringComparison.Ordinal);
}
