using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>What --model names: a checkpoint folder, else a Hugging Face model id in the local cache.</summary>
internal static class ModelLocation
{
    /// <summary>
    /// The checkpoint folder. A folder that exists wins over a model id of the same spelling, as in transformers'
    /// from_pretrained.
    /// </summary>
    public static string Resolve(string argument, Func<string, string?> env)
    {
        if (Directory.Exists(argument)) return argument;
        if (File.Exists(argument))
            throw new Blip2Exception($"--model '{argument}' is a file, not a checkpoint folder: give the folder that holds config.json"
                + (Path.GetFileName(argument) is "config.json" or "model.safetensors" ? $" ('{Path.GetDirectoryName(Path.GetFullPath(argument))}')" : ""));
        if (HuggingFaceCache.IsModelId(argument)) return HuggingFaceCache.Snapshot(argument, env);
        throw new Blip2Exception($"model folder '{argument}' does not exist (nor is it a Hugging Face model id such as Salesforce/blip2-opt-2.7b)");
    }
}
