using System.Collections.Generic;
using System.Collections.Immutable;
using Blip2Compiler.Generator.Graphs.Bind;

namespace Blip2Compiler.Generator.Graphs.Check
{
    /// <summary>
    /// Stage 3, Check: what the reference would reject at run time (or silently mis-compute) becomes a
    /// compile-time diagnostic located at the offending config value.
    /// </summary>
    internal static class ModelChecks
    {
        private static readonly HashSet<string> Activations = new HashSet<string> { "gelu", "relu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "silu", "swish", "quick_gelu" };

        public static List<DiagnosticInfo> Run(ConfigView config, string architecture, LocationInfo fallback)
        {
            var found = new List<DiagnosticInfo>();
            void Report(string id, string? path, params string[] args)
            {
                var location = path is null ? null : config.Document.Find(path)?.Location;
                found.Add(new DiagnosticInfo(id, new EquatableArray<string>(ImmutableArray.Create(args)), location ?? fallback));
            }
            bool Try(System.Action check)
            {
                try { check(); return true; }
                catch (BindException e) { Report("BLIP2015", e.ConfigPath, e.ConfigPath ?? "config", "", e.Message); return false; }
            }
            long Int(string schema, string field) => config.Get(schema, field)!.AsInt;

            void Positive(string schema, params string[] fields)
            {
                foreach (var f in fields)
                    Try(() =>
                    {
                        var v = Int(schema, f);
                        if (v <= 0) Report("BLIP2015", config.JsonPath(schema, f), config.JsonPath(schema, f), v.ToString(), "must be positive");
                    });
            }
            void Divisible(string schema, string hidden, string heads)
            {
                Try(() =>
                {
                    long h = Int(schema, hidden), n = Int(schema, heads);
                    if (n > 0 && h % n != 0) Report("BLIP2010", config.JsonPath(schema, hidden), h.ToString(), config.JsonPath(schema, hidden), n.ToString());
                });
            }
            void Activation(string schema, string field)
            {
                Try(() =>
                {
                    var act = config.Get(schema, field)!.AsString;
                    if (!Activations.Contains(act)) Report("BLIP2011", config.JsonPath(schema, field), act, config.JsonPath(schema, field));
                });
            }

            Positive("model", "num_query_tokens");
            Positive("vision", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size", "patch_size");
            Positive("qformer", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "cross_attention_frequency", "encoder_hidden_size", "vocab_size", "max_position_embeddings");
            Divisible("vision", "hidden_size", "num_attention_heads");
            Divisible("qformer", "hidden_size", "num_attention_heads");
            Activation("vision", "hidden_act");
            Activation("qformer", "hidden_act");
            Try(() =>
            {
                long image = Int("vision", "image_size"), patch = Int("vision", "patch_size");
                if (patch > 0 && image % patch != 0)
                    Report("BLIP2013", "vision_config.image_size", "vision_config.image_size " + image + " is not a multiple of patch_size " + patch);
                long encoder = Int("qformer", "encoder_hidden_size"), vision = Int("vision", "hidden_size");
                if (encoder != vision)
                    Report("BLIP2013", "qformer_config.encoder_hidden_size", "qformer_config.encoder_hidden_size " + encoder + " differs from vision_config.hidden_size " + vision + " (the Q-Former cross-attends to the vision output)");
            });

            if (architecture == "Blip2OptForConditionalGeneration")
            {
                Positive("opt", "hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim", "vocab_size", "max_position_embeddings", "word_embed_proj_dim");
                Divisible("opt", "hidden_size", "num_attention_heads");
                Activation("opt", "activation_function");
                Try(() =>
                {
                    if (!config.Get("opt", "do_layer_norm_before")!.AsBool)
                        Report("BLIP2015", "text_config.do_layer_norm_before", "text_config.do_layer_norm_before", "false", "post-norm OPT (opt-350m) is not supported by the OPT graph");
                });
            }
            if (architecture == "Blip2T5ForConditionalGeneration")
            {
                Positive("t5", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads", "vocab_size", "relative_attention_num_buckets", "relative_attention_max_distance");
                Activation("t5", "dense_act_fn");
            }
            if (architecture == "Blip2ForImageTextRetrieval")
            {
                Positive("model", "image_text_hidden_size");
                Try(() =>
                {
                    if (!config.Get("qformer", "use_qformer_text_input")!.AsBool)
                        Report("BLIP2013", "qformer_config.use_qformer_text_input", "image-text retrieval needs qformer_config.use_qformer_text_input = true (the Q-Former's text side)");
                });
            }
            return found;
        }
    }
}
