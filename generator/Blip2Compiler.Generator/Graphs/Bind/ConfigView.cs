using System.Collections.Generic;
using System.Globalization;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>
    /// The user's config seen through the graphs' schemas: `vision.hidden_size` reads `vision_config.hidden_size`
    /// from config.json, or the schema's default (which may refer to other fields, e.g. word_embed_proj_dim).
    /// Values are read lazily, so a schema that does not apply (t5 for an OPT checkpoint) is never checked.
    /// </summary>
    internal sealed class ConfigView
    {
        private readonly ConfigDocument _document;
        private readonly Dictionary<string, ConfigSchema> _schemas = new Dictionary<string, ConfigSchema>();
        private readonly Dictionary<string, ConstValue> _cache = new Dictionary<string, ConstValue>();
        private readonly HashSet<string> _evaluating = new HashSet<string>();
        private readonly List<(ConfigSchema Schema, ConfigField Field)> _read = new List<(ConfigSchema, ConfigField)>();

        public ConfigView(ConfigDocument document, IEnumerable<ConfigSchema> schemas)
        {
            _document = document;
            foreach (var s in schemas) _schemas[s.Name] = s;
        }

        public ConfigDocument Document => _document;

        public bool HasSchema(string name) => _schemas.ContainsKey(name);

        /// <summary>The JSON path a schema field is read from.</summary>
        public string JsonPath(string schema, string field)
        {
            var section = SectionOf(_schemas[schema]);
            return section.Length == 0 ? field : section + "." + field;
        }

        /// <summary>
        /// The section a schema reads: its own, or the top level when config.json is that section saved alone (its
        /// model_type is the schema's `or flat` one), as Blip2VisionConfig.from_pretrained reads a tower's own file.
        /// </summary>
        private string SectionOf(ConfigSchema schema) =>
            schema.FlatModelType is { } flat && _document.Find("model_type") is { Kind: ConfigKind.String } type && type.Value == flat
                ? "" : schema.Section;

        /// <summary>Reads `schema.field`; null when the schema has no such field.</summary>
        public ConstValue? Get(string schema, string field)
        {
            if (!_schemas.TryGetValue(schema, out var s)) return null;
            ConfigField? declared = null;
            foreach (var f in s.Fields) if (f.Name == field) { declared = f; break; }
            if (declared is null) return null;
            var key = schema + "." + field;
            if (_cache.TryGetValue(key, out var cached)) return cached;
            if (!_evaluating.Add(key)) throw new BindException("the default of " + key + " refers to itself");
            try
            {
                var value = Read(s, declared);
            if (declared.Type == "act" && !value.IsNone && !(value.Raw is string act && Activations.ByName.ContainsKey(act)))
            {
                var path = JsonPath(schema, field);
                throw new BindException("unknown activation", path, value.ToString(), DiagnosticDescriptors.UnknownActivation, new[] { value.Raw?.ToString() ?? "none", path });
            }
                _cache[key] = value;
                _read.Add((s, declared));
                return value;
            }
            finally { _evaluating.Remove(key); }
        }

        /// <summary>
        /// Every field read so far (what the compiled model depends on), by JSON path: its value and how a config.json
        /// that omits it is filled (a constant, another field, or derived from other fields).
        /// </summary>
        public IEnumerable<ReadField> ReadFields()
        {
            // A derived field is only as checkable as its inputs: read those too (until nothing new is read).
            for (int done = 0; done < _read.Count; done++)
            {
                var (schema, field) = _read[done];
                foreach (var name in ExprNames.Of(field.Default))
                {
                    // An input the model did not need and that does not parse is left out, not an error here.
                    try { if (name.IndexOf('.') < 0) Get(schema.Name, name); else Lookup(name); }
                    catch (BindException) { }
                }
            }
            var fields = new List<ReadField>();
            var paths = new HashSet<string>();
            foreach (var (schema, field) in _read)
            {
                // Two schemas reading one key (the top level of a flat tower config is both `model` and the tower's):
                // the field is listed once.
                if (!paths.Add(JsonPath(schema.Name, field.Name))) continue;
                var value = _cache[schema.Name + "." + field.Name];
                var kind = DefaultKind.Derived;
                ConstValue? constant = null;
                string? from = null;
                if (field.Default is NameExpr n && n.Name != "true" && n.Name != "false" && n.Name != "none")
                {
                    var dot = n.Name.IndexOf('.');
                    from = dot < 0 ? JsonPath(schema.Name, n.Name) : JsonPath(n.Name.Substring(0, dot), n.Name.Substring(dot + 1));
                    kind = DefaultKind.From;
                }
                else
                {
                    // A default that needs no other field is a constant; one computed from others (is_gated_act) is
                    // derived, and those others are compared instead.
                    try { constant = ConstEvaluator.Evaluate(field.Default, _ => null); kind = DefaultKind.Constant; }
                    catch (BindException) { }
                }
                fields.Add(new ReadField(JsonPath(schema.Name, field.Name), value, kind, constant, from));
            }
            fields.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
            return fields;
        }

        /// <summary>Resolves a dotted name like `vision.hidden_size`.</summary>
        public ConstValue? Lookup(string dotted)
        {
            var dot = dotted.IndexOf('.');
            if (dot < 0) return null;
            return Get(dotted.Substring(0, dot), dotted.Substring(dot + 1));
        }

        private ConstValue Read(ConfigSchema schema, ConfigField field)
        {
            var path = JsonPath(schema.Name, field.Name);
            var entry = _document.Find(path);
            // An empty list of names (`"architectures": []`) says nothing: the default applies.
            bool emptyNames = entry is { Kind: ConfigKind.Array } && field.AcceptsList && field.Type == "string" && entry.Items.AsImmutableArray().Length == 0;
            if (entry is null || emptyNames || (entry.Kind == ConfigKind.Null && !field.Nullable))
                return ConstEvaluator.Evaluate(field.Default, name => Get(schema.Name, name) ?? Lookup(name));
            try
            {
                return Convert(field, entry);
            }
            catch (System.FormatException)
            {
                throw new BindException("expected " + Describe(field.Type) + ", found " + entry.Kind.ToString().ToLowerInvariant() + " " + entry.Value, path, entry.Value);
            }
        }

        private static ConstValue Convert(ConfigField field, ConfigEntry entry)
        {
            if (entry.Kind == ConfigKind.Null) return ConstValue.None;
            var text = entry.Value;
            if (entry.Kind == ConfigKind.Array)
            {
                if (!field.AcceptsList) throw new System.FormatException();
                // A list where one value is expected (e.g. several eos ids): the graphs need the first.
                if (entry.Items.AsImmutableArray().Length == 0) throw new System.FormatException();
                text = entry.Items.AsImmutableArray()[0];
            }
            switch (field.Type)
            {
                case "int":
                    if (entry.Kind != ConfigKind.Number && entry.Kind != ConfigKind.Array) throw new System.FormatException();
                    var d = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
                    if (d != System.Math.Floor(d)) throw new System.FormatException();
                    return ConstValue.Of((long)d);
                case "float":
                    if (entry.Kind != ConfigKind.Number) throw new System.FormatException();
                    return ConstValue.Of(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
                case "bool":
                    if (entry.Kind != ConfigKind.Bool) throw new System.FormatException();
                    return ConstValue.Of(text == "true");
                case "string":
                case "act":
                    if (entry.Kind != ConfigKind.String && entry.Kind != ConfigKind.Array) throw new System.FormatException();
                    return ConstValue.Of(text);
            }
            throw new BindException("unknown schema type " + field.Type);
        }

        private static string Describe(string type) => type switch
        {
            "int" => "an integer",
            "float" => "a number",
            "bool" => "true or false",
            _ => "a string",
        };
    }

    internal enum DefaultKind { Constant, From, Derived }

    /// <summary>A config field the model was compiled with (see <see cref="ConfigView.ReadFields"/>).</summary>
    internal sealed class ReadField
    {
        public ReadField(string path, ConstValue value, DefaultKind kind, ConstValue? constant, string? from)
        {
            Path = path; Value = value; Kind = kind; Constant = constant; From = from;
        }

        public string Path { get; }
        public ConstValue Value { get; }
        public DefaultKind Kind { get; }
        public ConstValue? Constant { get; }
        public string? From { get; }
    }
}
