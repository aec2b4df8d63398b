using Blip2Compiler.Generator.Graphs.Parse;
using Blip2Compiler.Generator.Declaration;

namespace Blip2Compiler.Generator.Tests;

/// <summary>The raw type check's table (BLIP2006) is derived from graphs/config.graph: one place for config facts.</summary>
public class KnownConfigKeysTests
{
    [Theory]
    // Read by the graphs.
    [InlineData("vision_config.hidden_size", "Integer", false)]
    [InlineData("text_config.activation_function", "String", false)]
    [InlineData("image_token_index", "Integer", true)]
    // Accepted, not read (declared so a wrong type is still reported on the value).
    [InlineData("text_config.dropout", "Float", false)]
    [InlineData("text_config.use_cache", "Bool", false)]
    [InlineData("qformer_config.position_embedding_type", "String", false)]
    [InlineData("text_config.classifier_dropout", "Float", true)]
    // The deliberate looseness: lists of eos ids, HF's None for derived sizes and token ids, architectures as a list.
    [InlineData("text_config.eos_token_id", "IntegerOrIntegerArray", true)]
    [InlineData("text_config.word_embed_proj_dim", "Integer", true)]
    [InlineData("text_config.num_decoder_layers", "Integer", true)]
    [InlineData("text_config.bos_token_id", "Integer", true)]
    [InlineData("architectures", "StringArray", true)]
    public void The_table_comes_from_config_graph(string key, string type, bool nullable) =>
        Assert.Equal(new KeyType(Enum.Parse<ConfigValueType>(type), nullable), KnownConfigKeys.Types[key]);

    [Fact]
    public void A_key_two_schemas_declare_with_different_types_is_a_graph_error()
    {
        var file = GraphParser.Parse("t.graph", "config a = text_config\n  int vocab_size = 1\nconfig b = text_config\n  float vocab_size = 1.0 accepts null\n");
        var e = Assert.Throws<GraphException>(() => KnownConfigKeys.From(file.Configs));
        Assert.Equal(4, e.Line);
        var merged = KnownConfigKeys.From(GraphParser.Parse("t.graph", "config a = text_config\n  int x = 1\nconfig b = text_config\n  int x = 2 accepts null\n").Configs);
        Assert.Equal(new KeyType(ConfigValueType.Integer, true), merged["text_config.x"]);
    }
}
