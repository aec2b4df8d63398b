namespace Blip2Compiler.Models;

/// <summary>A config.json that says it is of another model family (its model_type and first architecture).</summary>
public sealed class NotBlip2ConfigException(string configPath, string? modelType, string? architecture) : Blip2Exception(
    $"{configPath}: this is {Describe(modelType, architecture)}, not a BLIP-2 model: this tool runs BLIP-2 checkpoints "
    + "(Blip2ForConditionalGeneration with OPT or Flan-T5, Blip2ForImageTextRetrieval), e.g. Salesforce/blip2-opt-2.7b")
{
    public string ConfigPath { get; } = configPath;
    public string? ModelType { get; } = modelType;
    public string? Architecture { get; } = architecture;

    private static string Describe(string? modelType, string? architecture) => (modelType, architecture) switch
    {
        ({ } type, { } arch) => $"a '{type}' model ({arch})",
        ({ } type, null) => $"a '{type}' model",
        (null, { } arch) => $"a {arch} model",
        _ => "another model",
    };
}
