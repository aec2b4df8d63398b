namespace Blip2Compiler.Tests.CommandLine;

/// <summary>--quantize: int8 runs; impossible combinations are one usage error line, before any weight is read.</summary>
public class QuantizeOptionTests
{
    [Fact]
    public async Task Int8CaptionsTheBundledPhoto()
    {
        var run = await CliRun.Run("caption", CliRun.Photo, "--quantize", "int8");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Single(run.OutLines);
    }

    [Fact]
    public async Task Int4OnLayersNarrowerThanTheGroupIsAUsageError()
    {
        // The bundled checkpoint's layers are 32 and 64 wide; int4's group is 128.
        var line = (await CliRun.Run("caption", CliRun.Photo, "--quantize", "int4")).AssertOneError(2);
        Assert.Contains("int4", line);
        Assert.Contains("group size 128", line);
    }

    [Fact]
    public async Task QuantizationWithAHalfDTypeIsAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--quantize", "int8", "--dtype", "bfloat16")).AssertOneError(2);
        Assert.Contains("bfloat16", line);
    }

    [Fact]
    public async Task UnknownQuantizationIsAUsageError()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--quantize", "int2")).AssertOneError(2);
        Assert.Contains("int2", line);
    }
}
