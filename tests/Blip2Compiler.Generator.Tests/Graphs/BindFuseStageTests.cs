using Blip2Compiler.Generator;
using Blip2Compiler.Generator.Graphs;
using Blip2Compiler.Generator.Graphs.Bind;
using Blip2Compiler.Generator.Graphs.Emit;
using Blip2Compiler.Generator.Graphs.Fuse;
using Blip2Compiler.Generator.Graphs.Select;
using Blip2Compiler.Generator.Graphs.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Blip2Compiler.Tests.Graphs;

public class BindFuseStageTests
{
    private static IrModel Bind(string @case)
    {
        var config = GraphCompilerTests.FromJson(Path.Combine(Fixtures.Golden(@case), "model", "config.json"));
        var graphs = GraphLibrary.Load();
        var view = new ConfigView(config, graphs.SelectMany(g => g.Configs));
        var declaration = new ModelDeclaration("N", "M", "public", config, new LocationInfo("a.cs", new TextSpan(0, 1), default));
        var root = RootSelector.Select(graphs, config, declaration.AttributeLocation, new List<DiagnosticInfo>())!.Name;
        return new Binder(graphs, view).Bind(declaration, root);
    }

    [Theory]
    [InlineData("blip2-opt", "Blip2OptForConditionalGeneration")]
    [InlineData("blip2-flan-t5", "Blip2T5ForConditionalGeneration")]
    [InlineData("blip2-itm", "Blip2ForImageTextRetrieval")]
    [InlineData("blip2-features", "Blip2OptForConditionalGeneration")]
    public void TheConfigPicksTheRoot(string @case, string root) => Assert.Equal(root, Bind(@case).Architecture);

    [Fact]
    public void TheKvCacheIsTheStackWhoseLayersCallCacheAppend()
    {
        // The fixtures: OPT 2 layers × 4 heads of 8; T5 2 decoder blocks × 4 heads, d_kv 8 (its encoder keeps no cache).
        Assert.Equal(new KvCacheGeometry(2, 4, 8, "language_model.layers"), Bind("blip2-opt").KvCache);
        Assert.Equal(new KvCacheGeometry(2, 4, 8, "decoder.blocks"), Bind("blip2-flan-t5").KvCache);
        Assert.Null(Bind("blip2-itm").KvCache);
        var facts = Bind("blip2-flan-t5").Facts.ToDictionary(f => f.Name, f => f.Value.Raw);
        Assert.Equal(("t5", 1L, 0L), (facts["TextModelType"], facts["EosTokenId"], facts["DecoderStartTokenId"]));
    }

    [Fact]
    public void IdenticalLayersShareAClassAndCrossAttentionLayersAreAVariant()
    {
        var model = Bind("blip2-opt");
        Assert.Single(model.Classes, c => c.BlockName == "VisionLayer");
        var qformerLayers = model.Classes.Where(c => c.BlockName == "QFormerLayer").ToList();
        Assert.Equal(new[] { "QFormerLayerWithCrossAttention", "QFormerLayer" }, qformerLayers.Select(c => c.Name));
        Assert.All(qformerLayers, c => Assert.Equal("IQFormerLayer", c.Interface));
        Assert.Null(qformerLayers[1].FindMember("crossattention"));
    }

    [Fact]
    public void ConfigValuesFoldIntoConstants()
    {
        var attention = Bind("blip2-opt").Classes.Single(c => c.BlockName == "OptAttention");
        Assert.Contains(("heads", ConstValue.Of(4L)), attention.Constants);
        var call = attention.Forwards[0].Body.OfType<AssignStatement>().Select(a => a.Value).OfType<CallExpr>().Single(c => c.Callee == "attention");
        var scale = Assert.IsType<ConstExpr>(call.Named.Single().Value);
        Assert.Equal(Math.Pow(8, -0.5), scale.Value.AsDouble, 12);
    }

    [Fact]
    public void FusionJoinsProjectionsAndTheKeyMapConcatenatesTheirWeights()
    {
        var model = Bind("blip2-opt");
        var attention = model.Classes.Single(c => c.BlockName == "OptAttention");
        FusionPasses.Run(attention);
        var fused = attention.FindMember("qkv_proj");
        Assert.NotNull(fused);
        Assert.Equal(new[] { "q_proj", "k_proj", "v_proj" }, fused!.FusedFrom!.Select(m => m.Name));
        Assert.Equal(new long[] { 32, 96 }, fused.Dims);
        Assert.Contains("residual add into out_proj", attention.AppliedFusions);

        var (rows, _) = KeyMapBuilder.Build(model.Root);
        var weight = rows.Single(r => r.Parameter == "language_model.layers.1.self_attn.qkv_proj.weight");
        Assert.Equal(SourceKind.Concat, weight.Alternatives.Single().Kind);
        Assert.Equal(new[] { "q_proj", "k_proj", "v_proj" }.Select(n => $"language_model.model.decoder.layers.1.self_attn.{n}.weight"), weight.Alternatives.Single().Keys);
    }

    [Fact]
    public void HeadSplitsOfAFusedProjectionBecomeOneSplit()
    {
        var model = Bind("blip2-opt");
        var attention = model.Classes.Single(c => c.BlockName == "OptAttention");
        FusionPasses.Through(attention, nameof(FuseHeadSplits));
        var body = attention.Forwards[0].Body.OfType<AssignStatement>().ToList();
        var split = body.Single(a => a.Value is CallExpr { Callee: "split_heads_fused" });
        Assert.Equal(new[] { "q", "k", "v" }, split.Targets);
        var call = (CallExpr)split.Value;
        Assert.Equal("qkv_proj", Assert.IsType<CallExpr>(call.Args[0]).Callee);
        Assert.Equal(ConstValue.Of(4L), Assert.IsType<ConstExpr>(call.Args[1]).Value);
        Assert.DoesNotContain(body, a => a.Value is CallExpr { Callee: "split_last" or "split_heads" });
        Assert.Contains("head split of the fused projection into q, k, v", attention.AppliedFusions);

        // Q-Former cross-attention: keys and values of the image, fused in pairs; the query's split stays.
        var cross = Bind("blip2-opt").Classes.Single(c => c.BlockName == "QFormerCrossAttention");
        FusionPasses.Through(cross, nameof(FuseHeadSplits));
        var crossBody = cross.Forwards[0].Body.OfType<AssignStatement>().ToList();
        Assert.Equal(new[] { "k", "v" }, crossBody.Single(a => a.Value is CallExpr { Callee: "split_heads_fused_pair" }).Targets);
        Assert.Single(crossBody, a => a.Value is CallExpr { Callee: "split_heads" });
    }

    [Fact]
    public void AnUnscaledAttentionFoldsItsScaleIntoTheQueryWeights()
    {
        var model = Bind("blip2-flan-t5");
        foreach (var c in model.Classes) FusionPasses.Through(c, nameof(FoldAttentionScale));
        var self = model.Classes.Single(c => c.Name == "T5SelfAttentionCached");
        var cross = model.Classes.Single(c => c.BlockName == "T5CrossAttention");
        double Scale(IrClass c) => Assert.IsType<ConstExpr>(ExprRewriter.Calls(c.Forwards[0].Body.SelectMany(ExprRewriter.Roots).Single(r => ExprRewriter.Calls(r).Any(x => x.Callee == "attention")))
            .Single(x => x.Callee == "attention").Named.Single(n => n.Name == "scale").Value).Value.AsDouble;

        var headDim = self.FindMember("qkv")!.FusedFrom![0].Dims[1] / 4.0;   // the fixture: 4 heads
        // T5 attends unscaled (scale 1): the query part of the fused projection takes √head_dim, attention the default.
        Assert.Equal(Math.Sqrt(headDim), self.FindMember("qkv")!.FusedFrom![0].OutputScale, 12);
        Assert.Equal(1.0, self.FindMember("qkv")!.FusedFrom![1].OutputScale);
        Assert.Equal(1 / Math.Sqrt(headDim), Scale(self), 12);
        Assert.Equal(Math.Sqrt(headDim), cross.FindMember("q")!.OutputScale, 12);
        Assert.Equal(1 / Math.Sqrt(headDim), Scale(cross), 12);

        var (rows, _) = KeyMapBuilder.Build(model.Root);
        var qkv = rows.First(r => r.Parameter.EndsWith("attention.qkv.weight", StringComparison.Ordinal));
        Assert.Equal(new[] { Math.Sqrt(headDim), 1.0, 1.0 }, qkv.Alternatives.Single().Scales);

        // OPT's attention uses the default scale: nothing folds.
        var opt = Bind("blip2-opt");
        foreach (var c in opt.Classes) FusionPasses.Through(c, nameof(FoldAttentionScale));
        Assert.All(KeyMapBuilder.Build(opt.Root).Rows, r => Assert.All(r.Alternatives, a => Assert.Null(a.Scales)));
    }

    [Fact]
    public void HeadSplitsStayWhenAPartHasAnotherReader()
    {
        var attention = Bind("blip2-opt").Classes.Single(c => c.BlockName == "OptAttention");
        FuseProjections.Apply(attention);
        var forward = attention.Forwards[0];
        var span = forward.Body[0].Span;
        // Someone else reads k_proj_out: the part must stay, so nothing fuses.
        forward.Body.Add(new CallStatement(span, new CallExpr(span, "record_hidden", new List<Expr> { new NameExpr(span, "k_proj_out") }, new List<(string, Expr)>()), null));
        FuseHeadSplits.Apply(attention);
        Assert.Contains(forward.Body.OfType<AssignStatement>(), a => a.Value is CallExpr { Callee: "split_last" });
        Assert.DoesNotContain(forward.Body.OfType<AssignStatement>(), a => a.Value is CallExpr { Callee: "split_heads_fused" });
    }

    [Fact]
    public void KeyMapCoversEveryStoredTensorOfTheFixture()
    {
        foreach (var @case in new[] { "blip2-opt", "blip2-flan-t5", "blip2-itm", "blip2-features" })
        {
            var model = Bind(@case);
            foreach (var c in model.Classes) FusionPasses.Run(c);
            var (rows, ignored) = KeyMapBuilder.Build(model.Root);
            var mapped = rows.SelectMany(r => r.Alternatives.First().Keys).ToHashSet();
            var stored = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Golden(@case), "meta.json")))
                .RootElement.GetProperty("state_dict_keys").EnumerateObject().Select(p => p.Name).ToList();
            Assert.All(stored, key => Assert.True(mapped.Contains(key) || ignored.Contains(key), $"{@case}: {key} is not in the key map"));
            Assert.All(mapped, key => Assert.Contains(key, stored));
        }
    }
}
