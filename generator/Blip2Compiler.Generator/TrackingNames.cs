namespace Blip2Compiler.Generator;

/// <summary>Names of the pipeline steps, for <c>WithTrackingName</c> and the incremental-caching tests.</summary>
internal static class TrackingNames
{
    public const string ModelRequests = nameof(ModelRequests);
    public const string AdditionalFilePaths = nameof(AdditionalFilePaths);
    public const string LocatedRequests = nameof(LocatedRequests);
    public const string WantedConfigFiles = nameof(WantedConfigFiles);
    public const string ParsedConfigFiles = nameof(ParsedConfigFiles);
    public const string ResolvedModels = nameof(ResolvedModels);
    public const string UserGraphs = nameof(UserGraphs);
    public const string CompiledModels = nameof(CompiledModels);

    public static readonly string[] All =
    {
        ModelRequests, AdditionalFilePaths, LocatedRequests, WantedConfigFiles, ParsedConfigFiles, ResolvedModels, UserGraphs, CompiledModels,
    };
}
