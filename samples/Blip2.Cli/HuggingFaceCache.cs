using System.Text.RegularExpressions;

namespace Blip2.Cli;

/// <summary>
/// Model ids (<c>Salesforce/blip2-opt-2.7b</c>) found in the local Hugging Face cache, laid out and located as
/// huggingface_hub does: the cache folder is <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else
/// <c>$XDG_CACHE_HOME/huggingface/hub</c>, else <c>~/.cache/huggingface/hub</c>; a model lives in
/// <c>models--Org--Name</c>, whose <c>refs/main</c> names the commit whose files are in <c>snapshots/&lt;commit&gt;</c>
/// (links into <c>blobs/</c>).
/// </summary>
internal static partial class HuggingFaceCache
{
    /// <summary>huggingface_hub's repo id rule: namespace/name, letters, digits, '-', '_', '.', no '--' or '..'.</summary>
    [GeneratedRegex(@"^[A-Za-z0-9][\w.\-]{0,95}/[\w.\-]{1,96}$")]
    private static partial Regex RepoId();

    public static bool IsModelId(string value) => RepoId().IsMatch(value) && !value.Contains("--") && !value.Contains("..");

    public static string Folder(Func<string, string?> env)
    {
        if (NonEmpty(env("HF_HUB_CACHE")) is { } hub) return Expand(hub, env);
        if (NonEmpty(env("HUGGINGFACE_HUB_CACHE")) is { } legacy) return Expand(legacy, env);
        if (NonEmpty(env("HF_HOME")) is { } home) return Path.Combine(Expand(home, env), "hub");
        var cache = NonEmpty(env("XDG_CACHE_HOME")) is { } xdg ? Expand(xdg, env) : Path.Combine(Home(env), ".cache");
        return Path.Combine(cache, "huggingface", "hub");
    }

    /// <summary>The snapshot folder of <paramref name="modelId"/>'s main revision.</summary>
    /// <exception cref="ModelNotInCacheException">The model, its refs/main or its snapshot is not in the cache.</exception>
    public static string Snapshot(string modelId, Func<string, string?> env)
    {
        var cache = Folder(env);
        var repo = Path.Combine(cache, "models--" + modelId.Replace("/", "--"));
        var reference = Path.Combine(repo, "refs", "main");
        if (!Directory.Exists(repo)) throw new ModelNotInCacheException(modelId, cache, null);
        if (!File.Exists(reference)) throw new ModelNotInCacheException(modelId, cache, $"{reference} is missing");
        var commit = File.ReadAllText(reference).Trim();
        var snapshot = Path.Combine(repo, "snapshots", commit);
        if (commit.Length == 0 || commit.IndexOfAny(['/', '\\']) >= 0 || !Directory.Exists(snapshot))
            throw new ModelNotInCacheException(modelId, cache, $"refs/main names commit '{commit}', which has no folder in {Path.Combine(repo, "snapshots")}");
        return snapshot;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string Home(Func<string, string?> env) => NonEmpty(env("HOME")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    // os.path.expanduser, as huggingface_hub applies to these variables.
    private static string Expand(string path, Func<string, string?> env) =>
        path == "~" ? Home(env) : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(Home(env), path[2..]) : path;
}
