using System;
using System.Collections.Generic;
using Blip2Compiler.Generator.Graphs.Bind;

namespace Blip2Compiler.Generator.Graphs.Fuse
{
    /// <summary>
    /// Stage 5, Fuse: the passes over each bound class, in the order they run. The order matters: head splits fuse
    /// only what FuseProjections joined, the attention scale folds into a (fused) query projection, and the epilogue
    /// pass comes last because it rewrites the linear calls the others look for. GraphCompiler and the tests use this
    /// list; a test that wants the IR after some pass takes <see cref="Through"/>.
    /// </summary>
    internal static class FusionPasses
    {
        public static readonly IReadOnlyList<(string Name, Action<IrClass> Apply)> All = new (string, Action<IrClass>)[]
        {
            (nameof(FuseProjections), FuseProjections.Apply),
            (nameof(FuseHeadSplits), FuseHeadSplits.Apply),
            (nameof(FoldAttentionScale), FoldAttentionScale.Apply),
            (nameof(FuseEpilogues), FuseEpilogues.Apply),
        };

        public static void Run(IrClass cls) => Through(cls, All[All.Count - 1].Name);

        /// <summary>Runs the passes in order up to and including <paramref name="last"/>.</summary>
        public static void Through(IrClass cls, string last)
        {
            foreach (var (name, apply) in All)
            {
                apply(cls);
                if (name == last) return;
            }
            throw new ArgumentException("no fusion pass " + last, nameof(last));
        }
    }
}
