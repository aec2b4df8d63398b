using System.Collections.Generic;
using System.Linq;
using System.Text;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Emit
{
    /// <summary>One row of the checkpoint key map: a model parameter and the published key(s) that fill it.</summary>
    internal sealed record KeyRow(string Parameter, long[] Shape, List<IrSource> Alternatives, bool KeepFloat32);

    /// <summary>Walks the bound model the way the generated constructors do, so the table and the model agree.</summary>
    internal static class KeyMapBuilder
    {
        public static (List<KeyRow> Rows, List<string> Ignored) Build(IrClass root)
        {
            var rows = new List<KeyRow>();
            var ignored = new List<string>();
            Walk(root, "", "", false, new Dictionary<string, string>(), rows, ignored);
            return (rows, ignored);
        }

        private static void Walk(IrClass cls, string keyPrefix, string paramPrefix, bool float32, Dictionary<string, string> keyArgs, List<KeyRow> rows, List<string> ignored)
        {
            foreach (var ignore in cls.IgnoredKeys) ignored.Add(keyPrefix + ignore);
            foreach (var m in cls.Members)
            {
                bool f32 = float32 || m.Float32;
                string key = Fill(m.Key, keyArgs);
                string keyBase = key.Length == 0 ? keyPrefix : keyPrefix + key + ".";
                string p = paramPrefix + m.Name + ".";
                switch (m.Kind)
                {
                    case MemberKind.Param:
                        var sources = m.Sources.Count > 0
                            ? m.Sources.Select(s => new IrSource(s.Kind, s.Keys.Select(k => keyPrefix + Fill(k, keyArgs)).ToList())).ToList()
                            : new List<IrSource> { new IrSource(SourceKind.Copy, new[] { keyPrefix + key }) };
                        rows.Add(new KeyRow(paramPrefix + m.Name, m.Dims, sources, f32));
                        break;
                    case MemberKind.Linear:
                        if (m.FusedFrom is not null)
                        {
                            rows.Add(new KeyRow(p + "weight", new[] { m.Dims[1], m.Dims[0] }, Concat(m.FusedFrom, keyPrefix, keyArgs, "weight"), f32));
                            if (m.Bias) rows.Add(new KeyRow(p + "bias", new[] { m.Dims[1] }, Concat(m.FusedFrom, keyPrefix, keyArgs, "bias"), f32));
                        }
                        else
                        {
                            rows.Add(Row(p + "weight", new[] { m.Dims[1], m.Dims[0] }, keyBase + "weight", f32, m.OutputScale));
                            if (m.Bias) rows.Add(Row(p + "bias", new[] { m.Dims[1] }, keyBase + "bias", f32, m.OutputScale));
                        }
                        break;
                    case MemberKind.LayerNorm:
                        rows.Add(Row(p + "weight", new[] { m.Dims[0] }, keyBase + "weight", f32));
                        rows.Add(Row(p + "bias", new[] { m.Dims[0] }, keyBase + "bias", f32));
                        break;
                    case MemberKind.RmsNorm:
                        rows.Add(Row(p + "weight", new[] { m.Dims[0] }, keyBase + "weight", f32));
                        break;
                    case MemberKind.Embedding:
                        rows.Add(Row(p + "weight", new[] { m.Dims[0], m.Dims[1] }, keyBase + "weight", f32));
                        break;
                    case MemberKind.Conv2d:
                        rows.Add(Row(p + "weight", new[] { m.Dims[1], m.Dims[0], m.Kernel, m.Kernel }, keyBase + "weight", f32));
                        rows.Add(Row(p + "bias", new[] { m.Dims[1] }, keyBase + "bias", f32));
                        break;
                    case MemberKind.Module:
                        Walk(m.Child!, keyBase, p, f32, m.ChildKeyArgs, rows, ignored);
                        break;
                    case MemberKind.Stack:
                        for (int i = 0; i < m.Children.Count; i++)
                            Walk(m.Children[i], keyBase + i + ".", p + i + ".", f32, m.ChildKeyArgs, rows, ignored);
                        break;
                }
            }
        }

        private static KeyRow Row(string parameter, long[] shape, string key, bool f32, double scale = 1.0) =>
            new KeyRow(parameter, shape, new List<IrSource> { new IrSource(SourceKind.Copy, new[] { key }, scale == 1.0 ? null : new[] { scale }) }, f32);

        private static List<IrSource> Concat(List<IrMember> parts, string keyPrefix, Dictionary<string, string> keyArgs, string leaf) =>
            new List<IrSource>
            {
                new IrSource(SourceKind.Concat, parts.Select(m => keyPrefix + Fill(m.Key, keyArgs) + "." + leaf).ToList(),
                    parts.All(m => m.OutputScale == 1.0) ? null : parts.Select(m => m.OutputScale).ToList()),
            };

        private static string Fill(string key, Dictionary<string, string> args)
        {
            if (key.IndexOf('{') < 0) return key;
            var sb = new StringBuilder(key);
            foreach (var kv in args) sb.Replace("{" + kv.Key + "}", kv.Value);
            return sb.ToString();
        }
    }
}
