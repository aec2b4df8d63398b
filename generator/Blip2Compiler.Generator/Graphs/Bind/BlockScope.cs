using System.Collections.Generic;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>
    /// Names visible inside one block instance: its arguments, its lets (evaluated when first read, so a check can
    /// guard the config value a let would divide by) and config values, through its alias or by schema name.
    /// Shared by the Check and Bind stages.
    /// </summary>
    internal sealed class BlockScope
    {
        private readonly ConfigView _config;
        private readonly Dictionary<string, ConstValue> _args;
        private readonly Dictionary<string, LetSyntax> _lets = new Dictionary<string, LetSyntax>();
        private readonly Dictionary<string, ConstValue> _letValues = new Dictionary<string, ConstValue>();
        /// <summary>Members whose `when` is false for this config (Bind folds their names to none).</summary>
        public readonly HashSet<string> Absent = new HashSet<string>();

        public BlockScope(ConfigView config, BlockSyntax block, Dictionary<string, ConstValue> args)
        {
            _config = config;
            Block = block;
            _args = args;
            foreach (var let in block.Lets) _lets[let.Name] = let;
        }

        public BlockSyntax Block { get; }

        public ConstValue Let(string name)
        {
            if (_letValues.TryGetValue(name, out var value)) return value;
            return _letValues[name] = Eval(_lets[name].Value);
        }

        public ConstValue? Lookup(string name)
        {
            if (_args.TryGetValue(name, out var a)) return a;
            if (_lets.ContainsKey(name)) return Let(name);
            var prefix = Block.ConfigAlias + ".";
            if (name.StartsWith(prefix, System.StringComparison.Ordinal))
                return _config.Get(Block.ConfigSchema, name.Substring(prefix.Length))
                    ?? throw new BindException("the config schema '" + Block.ConfigSchema + "' has no field '" + name.Substring(prefix.Length) + "'");
            return _config.Lookup(name);
        }

        public ConstValue Eval(Expr e) => ConstEvaluator.Evaluate(e, Lookup);

        /// <summary>The config.json path an expression reads, through lets that are plain names (`dim` → vision_config.hidden_size); null when it is computed.</summary>
        public string? PathOf(Expr e)
        {
            if (e is not NameExpr n) return null;
            if (_lets.TryGetValue(n.Name, out var let)) return PathOf(let.Value);
            var dot = n.Name.IndexOf('.');
            if (dot < 0) return null;
            var schema = n.Name.Substring(0, dot) == Block.ConfigAlias ? Block.ConfigSchema : n.Name.Substring(0, dot);
            return _config.HasSchema(schema) ? _config.JsonPath(schema, n.Name.Substring(dot + 1)) : null;
        }
    }
}
