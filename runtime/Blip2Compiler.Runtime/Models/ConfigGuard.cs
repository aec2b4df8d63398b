namespace Blip2Compiler.Models;

/// <summary>
/// The model class was compiled from one config; a checkpoint folder whose config.json disagrees on the sizes
/// that shape the graph is rejected by name before its weights are read.
/// </summary>
internal static class ConfigGuard
{
    public static void EnsureMatches(CheckpointConfig? config, ModelInfo info)
    {
        if (config is null) return; // weights alone: the key map's shape checks still apply
        var problems = CompiledConfig.Mismatches(config.Root, info);
        if (problems.Count > 0)
            throw new ConfigMismatchException(config.Path, "the model was compiled from another config: " + string.Join("; ", problems.Take(5))
                + (problems.Count > 5 ? $"; and {problems.Count - 5} more" : ""));
    }
}
