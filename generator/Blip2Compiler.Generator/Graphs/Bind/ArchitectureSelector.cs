namespace Blip2Compiler.Generator.Graphs.Bind
{
    /// <summary>Which root graph a config compiles to, as transformers decides from the same config.json.</summary>
    internal static class ArchitectureSelector
    {
        /// <returns>The root block name, or null with an error (diagnostic id and arguments).</returns>
        public static string? Select(ConfigDocument config, out string? errorId, out string[] errorArgs, out string? errorPath)
        {
            errorId = null; errorArgs = new string[0]; errorPath = null;
            var archEntry = config.Find("architectures");
            string? architecture = archEntry is { Kind: ConfigKind.Array } && archEntry.Items.AsImmutableArray().Length > 0 ? archEntry.Items.AsImmutableArray()[0] : null;
            var textType = config.Find("text_config.model_type")?.Value ?? "opt";
            var useText = config.Find("qformer_config.use_qformer_text_input") is { Kind: ConfigKind.Bool, Value: "true" };

            switch (architecture)
            {
                case "Blip2ForImageTextRetrieval":
                case "Blip2TextModelWithProjection":
                case "Blip2VisionModelWithProjection":
                    return "Blip2ForImageTextRetrieval";
                case null when useText:
                    return "Blip2ForImageTextRetrieval";
                case null:
                case "Blip2ForConditionalGeneration":
                case "Blip2Model":
                    if (textType == "opt") return "Blip2OptForConditionalGeneration";
                    if (textType == "t5") return "Blip2T5ForConditionalGeneration";
                    errorId = "BLIP2012"; errorArgs = new[] { textType }; errorPath = "text_config.model_type";
                    return null;
                default:
                    errorId = "BLIP2014"; errorArgs = new[] { architecture }; errorPath = "architectures";
                    return null;
            }
        }
    }
}
