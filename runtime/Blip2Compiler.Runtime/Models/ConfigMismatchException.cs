namespace Blip2Compiler.Models;

/// <summary>The checkpoint's config.json does not match the config the model class was compiled from.</summary>
public sealed class ConfigMismatchException : Blip2Exception
{
    public ConfigMismatchException(string file, string problem) : base($"{file}: {problem}.") { File = file; }
    public string File { get; }
}
