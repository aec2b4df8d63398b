using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Devices;

public class DeviceAndDTypeSpecTests
{
    [Theory]
    [InlineData("float32", ScalarType.Float32)]
    [InlineData("fp32", ScalarType.Float32)]
    [InlineData("float16", ScalarType.Float16)]
    [InlineData("FP16", ScalarType.Float16)]
    [InlineData("half", ScalarType.Float16)]
    [InlineData("bfloat16", ScalarType.BFloat16)]
    [InlineData(" bf16 ", ScalarType.BFloat16)]
    public void DTypeNames(string name, ScalarType expected)
    {
        Assert.Equal(expected, DTypeSpec.Parse(name));
        Assert.Equal(expected, DTypeSpec.Parse(DTypeSpec.Name(expected)));
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("float64")]
    [InlineData("")]
    public void UnsupportedDTypeNamesTheValue(string name)
    {
        var e = Assert.Throws<UnsupportedDTypeException>(() => DTypeSpec.Parse(name));
        Assert.Contains($"'{name}'", e.Message);
        Assert.Contains("bfloat16", e.Message);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("CPU")]
    public void Cpu(string name) => Assert.Equal(DeviceType.CPU, DeviceSpec.Parse(name).type);

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cuda0")]
    [InlineData("")]
    public void MalformedDeviceNamesTheValue(string name)
    {
        var e = Assert.Throws<InvalidDeviceException>(() => DeviceSpec.Parse(name));
        Assert.Equal(name, e.Device);
        Assert.Contains($"'{name}'", e.Message);
        Assert.Contains("cpu, cuda or cuda:N", e.Message);
    }

    [Fact]
    public void CudaWorksOnlyWhereAvailableAndSaysHowToGetIt()
    {
        if (torch.cuda.is_available())
        {
            Assert.Equal(DeviceType.CUDA, DeviceSpec.Parse("cuda").type);
            var e = Assert.Throws<InvalidDeviceException>(() => DeviceSpec.Parse("cuda:4096"));
            Assert.Contains("CUDA device", e.Message);
        }
        else
        {
            var e = Assert.Throws<InvalidDeviceException>(() => DeviceSpec.Parse("cuda:0"));
            Assert.Contains("'cuda:0'", e.Message);
            Assert.Contains("BLIP2_LIBTORCH", e.Message);
            Assert.Contains("--libtorch", e.Message);
            Assert.Contains("-p:Blip2Backend=cuda", e.Message);
        }
    }
}
