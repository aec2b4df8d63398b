using Blip2Compiler.Generator.Tests.Infrastructure;
using Snapshooter;
using Snapshooter.Xunit;

namespace Blip2Compiler.Generator.Tests;

/// <summary>
/// Every generated file and diagnostic for each configuration in <see cref="ConfigCases"/>, compared with the
/// snapshot in __snapshots__/. After an intended change of the generated code, delete the snapshots and run the tests
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
        Snapshot.Match(GeneratorHarness.Describe(run.Result), SnapshotNameExtension.Create(name));
    }

    [Fact]
    public void Generated_code_from_attribute_declared_configuration()
    {
        var result = GeneratorHarness.Run(AttributeConfigTests.Blip2Opt27bDeclaredWithAttributes);
        Assert.Null(result.Exception);
        Snapshot.Match(GeneratorHarness.Describe(result));
    }
}
