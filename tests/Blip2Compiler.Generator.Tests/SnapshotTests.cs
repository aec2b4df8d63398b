using Blip2Compiler.Generator.Tests.Infrastructure;
using Snapshooter;
using Snapshooter.Xunit;

namespace Blip2Compiler.Generator.Tests;

/// <summary>
/// Every generated file and the diagnostics for each configuration in <see cref="ConfigCases"/>, each compared with
/// its own snapshot in __snapshots__/ (SnapshotTests.Generated_code_CASE_FILE.snap). After an intended change of the generated code, delete the snapshots and run the tests
/// once without SNAPSHOOTER_STRICT_MODE to write new ones; review the diff before committing.
/// </summary>
public class SnapshotTests
{
    [Theory]
    [MemberData(nameof(ConfigCases.AllNames), MemberType = typeof(ConfigCases))]
    public void Generated_code(string name)
    {
        var run = ConfigCases.Run(name);
        Assert.Null(run.Result.Exception);
        foreach (var (file, text) in GeneratorHarness.DescribeFiles(run.Result))
            Snapshot.Match(text, SnapshotNameExtension.Create(name, file));
    }

    [Fact]
    public void Generated_code_from_attribute_declared_configuration()
    {
        var result = GeneratorHarness.Run(AttributeConfigTests.Blip2Opt27bDeclaredWithAttributes);
        Assert.Null(result.Exception);
        foreach (var (file, text) in GeneratorHarness.DescribeFiles(result))
            Snapshot.Match(text, SnapshotNameExtension.Create(file));
    }
}
