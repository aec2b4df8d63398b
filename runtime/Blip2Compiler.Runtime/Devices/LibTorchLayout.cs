namespace Blip2Compiler;

/// <summary>
/// How the application was built to find its libtorch, read from its runtimeconfig.json: whether it keeps a packaged
/// libtorch aside (<c>Blip2LibTorchAside</c>, as the blip2 tool does) and whether it was built in the Blip2Compiler
/// repository, where <c>-p:Blip2Backend</c> picks the libtorch package.
/// </summary>
internal sealed record LibTorchLayout(string? AsideFolder, string? RepositoryBackend)
{
    internal const string AsideFolderKey = "Blip2Compiler.LibTorchFolder";
    internal const string RepositoryBackendKey = "Blip2Compiler.RepositoryBackend";

    public static LibTorchLayout Current { get; } =
        new(AppContext.GetData(AsideFolderKey) as string, AppContext.GetData(RepositoryBackendKey) as string);

    public bool Aside => !string.IsNullOrEmpty(AsideFolder);
    public bool InRepository => !string.IsNullOrEmpty(RepositoryBackend);
}
