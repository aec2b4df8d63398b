using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>--model names a Hugging Face model id that the local Hugging Face cache does not hold (exit code 1).</summary>
internal sealed class ModelNotInCacheException(string modelId, string cacheFolder, string? detail) : Blip2Exception(
    $"--model '{modelId}' is not a folder, and the Hugging Face cache ({cacheFolder}) does not hold it" + (detail is null ? "" : $" ({detail})")
    + $": download it with `huggingface-cli download {modelId}` (pip install huggingface_hub; HF_HUB_CACHE or HF_HOME choose the cache), "
    + "or give a checkpoint folder")
{
    public string ModelId { get; } = modelId;
    public string CacheFolder { get; } = cacheFolder;
}
