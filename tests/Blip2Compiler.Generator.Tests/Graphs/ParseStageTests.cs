using Blip2Compiler.Generator.Graphs.Parse;
using Blip2Compiler.Generator.Graphs.Syntax;

namespace Blip2Compiler.Tests.Graphs;

public class ParseStageTests
{
    private const string Graph = """
        config demo = demo_config
          int width = 8
          int? extra = none

        block Mlp(cfg: demo, index)
          let hidden = cfg.width * 4
          variant First when index == 0
          linear up cfg.width -> hidden
          linear down hidden -> cfg.width bias false @ "out"
          param scale [1, cfg.width] @ "s" | concat("a", "b") float32 when index == 0
          forward Forward(x, mask?, bool flag, int n) -> y
            y = x + down(activation(up(x), "gelu")) when flag
            for layer in layers
              x = layer(x)
            return y
        """;

    [Fact]
    public void ParsesConfigsBlocksMembersAndForwards()
    {
        var file = GraphParser.Parse("demo.graph", Graph);
        var config = Assert.Single(file.Configs);
        Assert.Equal(("demo", "demo_config"), (config.Name, config.Section));
        Assert.True(config.Fields[1].Nullable);

        var block = Assert.Single(file.Blocks);
        Assert.Equal(new[] { "index" }, block.Params);
        Assert.Equal("First", Assert.Single(block.Variants).Suffix);
        Assert.Equal(new[] { MemberKind.Linear, MemberKind.Linear, MemberKind.Param }, block.Members.Select(m => m.Kind));
        Assert.Equal("out", block.Members[1].Key);
        Assert.True(block.Members[2].Float32);
        Assert.Equal(new[] { SourceKind.Copy, SourceKind.Concat }, block.Members[2].Sources.Select(s => s.Kind));
        Assert.NotNull(block.Members[2].When);

        var forward = Assert.Single(block.Forwards);
        Assert.Equal(new[] { "tensor", "tensor", "bool", "int" }, forward.Params.Select(p => p.Type));
        Assert.True(forward.Params[1].Optional);
        Assert.Equal(new[] { "y" }, forward.OutputNames);
        Assert.IsType<AssignStatement>(forward.Body[0]);
        Assert.NotNull(forward.Body[0].When);
        Assert.IsType<ForStatement>(forward.Body[1]);
        Assert.IsType<ReturnStatement>(forward.Body[2]);
    }

    [Fact]
    public void PowerBindsTighterThanProduct()
    {
        var file = GraphParser.Parse("p.graph", "block B(cfg: c)\n  forward F(x)\n    return x * 2 ** -0.5\n");
        var ret = (ReturnStatement)file.Blocks[0].Forwards[0].Body[0];
        var mul = Assert.IsType<BinaryExpr>(ret.Values[0]);
        Assert.Equal("*", mul.Op);
        Assert.Equal("**", Assert.IsType<BinaryExpr>(mul.Right).Op);
    }

    [Fact]
    public void ParsesTheModelLevelItems_SelectCheckInfoAndConfigAcceptance()
    {
        var file = GraphParser.Parse("m.graph", """
            config m = ""
              string kind = "a" if flag else "b" accepts list, null
              bool flag = false
            root R(cfg: m) : Some.Base
              select when cfg.kind in ["a", "b"] and cfg.flag
              check cfg.width > 0, cfg.width % 2 == 0 "even widths only"
              info Width = cfg.width
            """);
        var field = file.Configs[0].Fields[0];
        Assert.True(field.AcceptsList && field.AcceptsNull && !field.Nullable);
        Assert.IsType<ConditionalExpr>(field.Default);
        var root = Assert.Single(file.Blocks);
        var and = Assert.IsType<BinaryExpr>(Assert.Single(root.Selects).When);
        Assert.Equal(2, Assert.IsType<InExpr>(and.Left).Items.Count);
        var check = Assert.Single(root.Checks);
        Assert.Equal((2, "even widths only"), (check.Conditions.Count, check.Message));
        Assert.Equal("Width", Assert.Single(root.Infos).Name);
    }

    [Fact]
    public void A_config_section_may_be_read_flat_for_its_own_model_type()
    {
        var file = GraphParser.Parse("c.graph", "config tower = tower_config or flat \"my_tower\"\n  int width = 1\nconfig other = other_config\n  int width = 2\n");
        Assert.Equal(("tower_config", "my_tower"), (file.Configs[0].Section, file.Configs[0].FlatModelType));
        Assert.Null(file.Configs[1].FlatModelType);
    }

    [Theory]
    [InlineData("config m = \"\"\n  int x = 1\nroot R(cfg: m)\n  param p [1]\n", 3, "select when")]
    [InlineData("block B(cfg: c)\n  select when true\n", 2, "only a root")]
    [InlineData("block B(cfg: c)\n  info X = 1\n", 2, "only a root")]
    [InlineData("config m = \"\"\n  int x = 1 accepts lists\n", 2, "accepts 'list' or 'null'")]
    [InlineData("config m = \"\"\n  long x = 1\n", 2, "int, float, bool, string or act")]
    [InlineData("config t = tower_config or \"x\"\n  int x = 1\n", 1, "expected 'flat'")]
    [InlineData("blok B(cfg: c)\n", 1, "expected 'config', 'block' or 'root'")]
    [InlineData("block B(cfg: c)\n  linear a 3 -> \n", 2, "expected an expression")]
    [InlineData("block B(cfg: c)\n      linear a 3 -> 4\n", 2, "unexpected indentation")]
    [InlineData("block B(cfg: c)\n  widget a\n", 2, "unknown block item 'widget'")]
    [InlineData("block B(cfg: c)\n  param a [1] @ \"k\n", 2, "unterminated string")]
    public void ErrorsNameTheLine(string text, int line, string message)
    {
        var error = Assert.Throws<GraphException>(() => GraphParser.Parse("bad.graph", text));
        Assert.Equal(line, error.Line);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void TheShippedGraphsParse()
    {
        var graphs = Blip2Compiler.Generator.Graphs.GraphLibrary.Load();
        Assert.Contains(graphs, g => g.Blocks.Any(b => b.Name == "QFormerLayer"));
        Assert.Equal(5, graphs.SelectMany(g => g.Blocks).Count(b => b.IsRoot));
    }
}
