using System.Collections.Generic;

namespace Blip2Compiler.Generator.Graphs.Syntax
{
    /// <summary>Where a declaration came from, so errors and generated comments can point back to the graph line.</summary>
    internal readonly record struct GraphSpan(string File, int Line);

    // ---- Expressions (shared by compile-time `let`s and forward wiring) ----
    internal abstract record Expr(GraphSpan Span);
    internal sealed record NumberExpr(GraphSpan Span, string Text) : Expr(Span);
    internal sealed record StringExpr(GraphSpan Span, string Value) : Expr(Span);
    internal sealed record NameExpr(GraphSpan Span, string Name) : Expr(Span);           // a, cfg.hidden_size, embed_tokens.weight
    internal sealed record CallExpr(GraphSpan Span, string Callee, IReadOnlyList<Expr> Args, IReadOnlyList<(string Name, Expr Value)> Named) : Expr(Span);
    internal sealed record BinaryExpr(GraphSpan Span, string Op, Expr Left, Expr Right) : Expr(Span);
    internal sealed record UnaryExpr(GraphSpan Span, string Op, Expr Operand) : Expr(Span);
    internal sealed record InExpr(GraphSpan Span, Expr Value, IReadOnlyList<Expr> Items) : Expr(Span);     // x in [a, b, none]
    internal sealed record ConditionalExpr(GraphSpan Span, Expr Then, Expr Condition, Expr Else) : Expr(Span); // a if c else b

    // ---- Config schemas ----
    /// <summary>
    /// One config.json key: its type (int, float, bool, string, act), whether null is a value (`int?`: none), its
    /// default, and what else JSON may hold there: `accepts list` (a list whose first item is read, e.g. several eos
    /// ids) and `accepts null` (null reads as the default, as Hugging Face's None does for word_embed_proj_dim).
    /// </summary>
    internal sealed record ConfigField(GraphSpan Span, string Type, string Name, bool Nullable, Expr Default, bool AcceptsList = false, bool AcceptsNull = false);
    /// <summary>
    /// A config.json section (`vision_config`, "" for the top level) read as one schema. <see cref="FlatModelType"/>
    /// (`or flat "blip_2_vision_model"`): a config.json whose top-level model_type is this is the section saved alone
    /// (Blip2VisionConfig.save_pretrained writes its keys at the top level), so the schema reads the top level.
    /// </summary>
    internal sealed record ConfigSchema(GraphSpan Span, string Name, string Section, IReadOnlyList<ConfigField> Fields, string? FlatModelType = null);

    // ---- Blocks ----
    internal enum MemberKind { Param, Linear, LayerNorm, RmsNorm, Embedding, Conv2d, Module, Stack }

    /// <summary>How a parameter is filled from checkpoint keys; the names are the runtime's <c>Blip2Compiler.Checkpoints.SourceKind</c>.</summary>
    internal enum SourceKind { Copy, Concat, QkvBias }

    /// <summary>One way to fill a parameter from the checkpoint: a key, a concatenation, or q/v biases.</summary>
    internal sealed record SourceSyntax(SourceKind Kind, IReadOnlyList<string> Keys);

    internal sealed record MemberSyntax(
        GraphSpan Span,
        MemberKind Kind,
        string Name,
        IReadOnlyList<Expr> Dims,                 // param shape; linear [in, out]; norm [dim]; embedding [count, dim]; conv [in, out]
        IReadOnlyDictionary<string, Expr> Options, // eps, kernel, stride, bias, count
        string? BlockName,                        // module / stack
        IReadOnlyList<(string Name, Expr Value)> BlockArgs,
        string? Key,                              // "@ key" (null: the member name)
        IReadOnlyList<SourceSyntax> Sources,      // param alternatives after '@'
        bool Float32,
        Expr? When);

    internal abstract record Statement(GraphSpan Span, Expr? When);
    internal sealed record AssignStatement(GraphSpan Span, IReadOnlyList<string> Targets, Expr Value, Expr? When) : Statement(Span, When);
    internal sealed record CallStatement(GraphSpan Span, Expr Call, Expr? When) : Statement(Span, When);
    internal sealed record ReturnStatement(GraphSpan Span, IReadOnlyList<Expr> Values, Expr? When) : Statement(Span, When);
    internal sealed record ForStatement(GraphSpan Span, string Variable, string Stack, IReadOnlyList<Statement> Body) : Statement(Span, null);

    internal sealed record ForwardParam(string Name, string Type, bool Optional); // Type: tensor | bool | int
    internal sealed record ForwardSyntax(GraphSpan Span, string Name, IReadOnlyList<ForwardParam> Params, IReadOnlyList<string> OutputNames, IReadOnlyList<Statement> Body, Expr? When);

    internal sealed record IgnoreSyntax(GraphSpan Span, string Key, Expr? When);
    internal sealed record LetSyntax(GraphSpan Span, string Name, Expr Value);
    internal sealed record VariantSyntax(GraphSpan Span, string Suffix, Expr When);
    /// <summary>`select when ...` on a root: the configs it serves (several lines: any of them).</summary>
    internal sealed record SelectSyntax(GraphSpan Span, Expr When);
    /// <summary>`check a > 0, b % c == 0 "why"`: what the block needs of the config, reported where the config is wrong.</summary>
    /// <summary>`info VocabSize = opt.vocab_size` on a root: a fact the runtime reads from the model's ModelInfo.</summary>
    internal sealed record InfoSyntax(GraphSpan Span, string Name, Expr Value);
    internal sealed record CheckSyntax(GraphSpan Span, IReadOnlyList<Expr> Conditions, string? Message);

    internal sealed record BlockSyntax(
        GraphSpan Span,
        string Name,
        bool IsRoot,
        string? BaseType,
        string ConfigAlias,
        string ConfigSchema,
        IReadOnlyList<string> Params,
        IReadOnlyList<LetSyntax> Lets,
        IReadOnlyList<VariantSyntax> Variants,
        IReadOnlyList<MemberSyntax> Members,
        IReadOnlyList<IgnoreSyntax> Ignores,
        IReadOnlyList<ForwardSyntax> Forwards,
        IReadOnlyList<SelectSyntax> Selects,
        IReadOnlyList<CheckSyntax> Checks,
        IReadOnlyList<InfoSyntax> Infos);

    internal sealed record GraphFile(string Name, IReadOnlyList<ConfigSchema> Configs, IReadOnlyList<BlockSyntax> Blocks);
}

namespace Blip2Compiler.Generator.Graphs.Syntax
{
    /// <summary>
    /// A compile-time value folded into forward wiring by the Bind stage; <see cref="Let"/> names the block's `let`
    /// (or argument) it came from, so emitted code reads `Heads`, the class constant, not a bare 4.
    /// </summary>
    internal sealed record ConstExpr(GraphSpan Span, Bind.ConstValue Value, string? Let = null) : Expr(Span);
}
