using System.Collections.Generic;

namespace Blip2Compiler.Generator.Graphs.Syntax
{
    /// <summary>
    /// The activation names an `act` config value may hold (transformers' ACT2FN keys that BLIP-2's configs use),
    /// each with the runtime's <c>Blip2Compiler.Nn.Activation</c> it lowers to. The one table: the Bind stage checks
    /// `act` values against it (BLIP2011) and the Emit stage lowers `activation(...)` through it.
    /// </summary>
    internal static class Activations
    {
        public static readonly IReadOnlyDictionary<string, string> ByName = new Dictionary<string, string>
        {
            ["gelu"] = "Gelu",
            ["relu"] = "Relu",
            ["gelu_new"] = "GeluTanh",
            ["gelu_pytorch_tanh"] = "GeluTanh",
            ["gelu_fast"] = "GeluTanh",
            ["silu"] = "Silu",
            ["swish"] = "Silu",
            ["quick_gelu"] = "QuickGelu",
        };
    }
}
