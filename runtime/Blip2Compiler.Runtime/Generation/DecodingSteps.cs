namespace Blip2Compiler.Generation;

/// <summary>The <see cref="DecodingStep"/> a model starts with: <c>BLIP2_DECODING_STEP</c>, else the dynamic step.</summary>
internal static class DecodingSteps
{
    public const string EnvironmentVariable = "BLIP2_DECODING_STEP";

    public static DecodingStep FromEnvironment() => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>dynamic, static or cuda-graphs (any case); unset or empty is the dynamic step; anything else is an
    /// <see cref="InvalidGenerationOptionException"/> naming the variable.</summary>
    public static DecodingStep Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "dynamic" => DecodingStep.Dynamic,
        "static" => DecodingStep.StaticBuffers,
        "cuda-graphs" => DecodingStep.CudaGraphs,
        _ => throw new InvalidGenerationOptionException(EnvironmentVariable, value, "must be dynamic, static or cuda-graphs", "the environment"),
    };
}
