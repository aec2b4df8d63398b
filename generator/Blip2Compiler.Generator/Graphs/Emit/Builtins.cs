using System.Collections.Generic;
using System.Linq;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Emit
{
    /// <summary>The graph language's built-in operations and the runtime calls (Blip2Compiler.Nn.Ops) they lower to.</summary>
    internal static class Builtins
    {
        // name → (C# method, takes the forward context, positional arity or -1 for any)
        private static readonly Dictionary<string, (string Method, bool Context, int Arity)> Table = new Dictionary<string, (string, bool, int)>
        {
            ["linear"] = ("Ops.Linear", false, 3),
            ["split_heads"] = ("Ops.SplitHeads", false, 2),
            ["split_heads_fused"] = ("Ops.SplitHeadsFused", false, 2),
            ["split_heads_fused_pair"] = ("Ops.SplitHeadsFusedPair", false, 2),
            ["merge_heads"] = ("Ops.MergeHeads", false, 1),
            ["split_last"] = ("Ops.SplitLast", false, -1),
            ["cache_append"] = ("ctx.AppendToCache", false, 2),
            ["record_hidden"] = ("ctx.RecordHidden", false, 1),
            ["prepend_class_token"] = ("Ops.PrependClassToken", false, 2),
            ["flatten_patches"] = ("Ops.FlattenPatches", false, 1),
            ["vision_positions"] = ("Ops.VisionPositions", false, 3),
            ["select_token"] = ("Ops.SelectToken", false, 2),
            ["slice"] = ("Ops.Slice", false, 4),
            ["cat"] = ("Ops.Cat", false, 3),
            ["mean"] = ("Ops.Mean", false, 2),
            ["normalize"] = ("Ops.Normalize", false, 1),
            ["expand_batch"] = ("Ops.ExpandBatch", false, 2),
            ["to_float32"] = ("Ops.ToFloat32", false, 1),
            ["to_dtype_of"] = ("Ops.ToDTypeOf", false, 2),
            ["ones_mask"] = ("Ops.OnesMask", false, 1),
            ["padding_mask"] = ("Ops.PaddingMask", false, 1),
            ["causal_mask"] = ("Ops.CausalMask", true, 2),
            ["t5_position_bias"] = ("Ops.T5PositionBias", true, 5),
            ["positions_like"] = ("Ops.PositionsLike", false, 1),
            ["cumsum"] = ("Ops.CumSum", false, 2),
        };

        public static bool IsKnown(string name) => Table.ContainsKey(name) || name == "activation" || name == "attention" || name == "memo"
            || name == "linear_activation" || name == "linear_residual";

        public static string Emit(CallExpr c, List<string> args, IrClass cls)
        {
            switch (c.Callee)
            {
                case "activation":
                    return "Ops." + Activation(c, 1) + "(" + args[0] + ")";
                case "linear_activation":
                    // Fused: GEMM with bias, then the activation (ReLU/SiLU in place on its output).
                    return "Ops.LinearActivation(" + args[0] + ", " + args[1] + ", Activation." + Activation(c, 2) + ")";
                case "linear_residual":
                    return "Ops.LinearResidual(" + args[0] + ", " + args[1] + ", " + args[2] + ")";
                case "attention":
                    var scale = c.Named.FirstOrDefault(n => n.Name == "scale").Value as ConstExpr
                        ?? throw new GraphError(c.Span, "attention needs a compile-time scale = ...");
                    // `cross = true`: the probabilities are recorded as cross-attentions (HF keeps them apart).
                    var cross = c.Named.FirstOrDefault(n => n.Name == "cross").Value is ConstExpr { Value: { Raw: bool flag } } && flag;
                    return "Ops.Attention(ctx, " + string.Join(", ", args) + ", scale: " + ConstValue.FormatDouble(scale.Value.AsDouble) + (cross ? ", cross: true" : "") + ")";
                case "memo":
                    // Computed on the first step of a generation, then reused from the context (T5 cross-attention K/V).
                    return "ctx.Memo(() => (" + string.Join(", ", args) + "))";
            }
            if (!Table.TryGetValue(c.Callee, out var op))
                throw new GraphError(c.Span, "unknown operation '" + c.Callee + "' in " + cls.BlockName);
            if (op.Arity >= 0 && args.Count != op.Arity)
                throw new GraphError(c.Span, c.Callee + " takes " + op.Arity + " arguments, got " + args.Count);
            return op.Method + "(" + string.Join(", ", op.Context ? new[] { "ctx" }.Concat(args) : args) + ")";
        }

        private static string Activation(CallExpr c, int index)
        {
            var name = (c.Args[index] as ConstExpr)?.Value.Raw as string ?? throw new GraphError(c.Span, "the activation must be a config string");
            return Activations.ByName.TryGetValue(name, out var method) ? method : throw new GraphError(c.Span, "unknown activation '" + name + "'");
        }
    }
}
