using System;

namespace Blip2Compiler;

/// <summary>
/// Marks a <c>partial</c> class as a BLIP-2 model that the Blip2Compiler source generator fills in at build time.
/// Either name the checkpoint's config.json (which must be an <c>&lt;AdditionalFiles&gt;</c> item of the project):
/// <code>[Blip2Model("blip2-opt-2.7b/config.json")] public partial class Blip2Opt;</code>
/// or leave the path out and declare the configuration with <see cref="VisionConfigAttribute"/>,
/// <see cref="QFormerConfigAttribute"/> and <see cref="OptTextConfigAttribute"/> or <see cref="T5TextConfigAttribute"/>
/// (plus the top-level values below). Values not given take Hugging Face's defaults.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class Blip2ModelAttribute : Attribute
{
    /// <summary>Declare the configuration with attributes.</summary>
    public Blip2ModelAttribute() { }

    /// <summary>Compile the model from a config.json. The path is matched against the AdditionalFiles by its end.</summary>
    public Blip2ModelAttribute(string configPath) => ConfigPath = configPath;

    /// <summary>The config.json path given to the constructor, or null.</summary>
    public string? ConfigPath { get; }

    /// <summary>HF <c>num_query_tokens</c>: learned query tokens of the Q-Former (32 in the published checkpoints).</summary>
    public int NumQueryTokens { get; set; }

    /// <summary>HF <c>image_token_index</c>: the text token id that marks where the query embeddings go.</summary>
    public int ImageTokenIndex { get; set; }

    /// <summary>HF <c>image_text_hidden_size</c>: width of the image–text retrieval projections.</summary>
    public int ImageTextHiddenSize { get; set; }

    /// <summary>
    /// HF <c>architectures[0]</c>: <c>Blip2ForConditionalGeneration</c>, <c>Blip2ForImageTextRetrieval</c>, <c>Blip2Model</c>,
    /// <c>Blip2VisionModel</c>, <c>Blip2QFormerModel</c>. Beside a config path it names the class to build from that
    /// config instead of the file's own <c>architectures</c>, as <c>Blip2VisionModel.from_pretrained</c> on a full
    /// BLIP-2 checkpoint does: <c>[Blip2Model("blip2-opt-2.7b/config.json", Architecture = "Blip2VisionModel")]</c>
    /// compiles the vision tower from <c>vision_config</c> and loads the <c>vision_model.</c> keys of that checkpoint.
    /// </summary>
    public string? Architecture { get; set; }
}
