using static TorchSharp.torch;

namespace Blip2Compiler.Generation;

/// <summary><c>TemperatureLogitsWarper</c>: divides the scores by the temperature (sampling only).</summary>
public sealed class TemperatureWarper(double temperature) : ILogitsProcessor
{
    public Tensor Process(Tensor contextIds, Tensor scores) => scores / temperature;
}
