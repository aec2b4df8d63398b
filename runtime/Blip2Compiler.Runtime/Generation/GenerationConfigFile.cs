namespace Blip2Compiler.Generation;

/// <summary>
/// A checkpoint's generation defaults (<see cref="GenerationDefaults.Read(string)"/>) and the notes on its
/// generation_config.json: one line per key this engine does not use, naming the key and why.
/// </summary>
public sealed record GenerationConfigFile(GenerationOptions Options, IReadOnlyList<string> Notes);
