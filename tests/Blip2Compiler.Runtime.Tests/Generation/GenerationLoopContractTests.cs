using Blip2Compiler.Generation;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Generation;

/// <summary>
/// What the generation loop throws when the code that calls it breaks its contract (a malformed context, a factory or
/// session that does not do what <see cref="IDecoderSession"/> says): a bug of ours, so the .NET argument/operation
/// exceptions, never a <see cref="Blip2Exception"/> that would be reported to a user as their mistake. Bad options
/// stay typed user-input errors.
/// </summary>
public class GenerationLoopContractTests
{
    private static readonly GenerationOptions Options = new() { MaxNewTokens = 3 };

    [Theory]
    [InlineData("float")]
    [InlineData("one-dimensional")]
    [InlineData("no rows")]
    [InlineData("no positions")]
    public void AMalformedContextIsAnArgumentError(string kind)
    {
        var context = kind switch
        {
            "float" => zeros(1, 2),
            "one-dimensional" => zeros(2, ScalarType.Int64),
            "no rows" => zeros(0, 2, ScalarType.Int64),
            _ => zeros(1, 0, ScalarType.Int64),
        };
        var model = TrigramModel.Random(6, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => GenerationLoop.Generate(model.Factory(Reference.Context([1, 2])), context, Options));
        Assert.Equal("contextIds", e.ParamName);
        Assert.Equal(0, model.Steps);
    }

    [Fact]
    public void AFactoryWithoutASessionIsAnOperationError()
    {
        var e = Assert.Throws<InvalidOperationException>(() => GenerationLoop.Generate((_, _) => null!, Reference.Context([1, 2]), Options));
        Assert.Contains("no session", e.Message);
    }

    [Fact]
    public void ASessionOfOtherRowsIsAnOperationErrorAndIsDisposed()
    {
        var session = new FixedSession(rows: 3, logits: zeros(3, 6));
        var e = Assert.Throws<InvalidOperationException>(() =>
            GenerationLoop.Generate((_, _) => session, Reference.Context([1, 2], [3, 4]), Options));
        Assert.Contains("decodes 3 rows", e.Message);
        Assert.Contains("expects 2", e.Message);
        Assert.True(session.Disposed);
        Assert.Equal(0, session.Calls);
    }

    [Theory]
    [InlineData(1)]   // [rows, vocab] wanted; [rows, 1, vocab] (a forgotten last-position select) given
    [InlineData(2)]   // logits of another row count
    public void LogitsOfTheWrongShapeAreAnOperationError(int kind)
    {
        var logits = kind == 1 ? zeros(2, 1, 6) : zeros(3, 6);
        var session = new FixedSession(rows: 2, logits);
        var e = Assert.Throws<InvalidOperationException>(() =>
            GenerationLoop.Generate((_, _) => session, Reference.Context([1, 2], [3, 4]), Options));
        Assert.Contains("expected [2, vocab]", e.Message);
        Assert.True(session.Disposed);
    }

    [Fact]
    public void AnOptionTheContextRulesOutStaysAUserInputError()
    {
        var model = TrigramModel.Random(6, seed: 1);
        var context = Reference.Context([1, 2]);
        var e = Assert.Throws<InvalidGenerationOptionException>(() =>
            GenerationLoop.Generate(model.Factory(context), context, new GenerationOptions { MaxLength = 2 }));
        Assert.IsAssignableFrom<Blip2Exception>(e);
        Assert.Equal(0, model.Steps);
    }

    /// <summary>A session that claims <paramref name="rows"/> rows and returns a copy of <paramref name="logits"/>.</summary>
    private sealed class FixedSession(long rows, Tensor logits) : IDecoderSession
    {
        public long Rows => rows;
        public int Calls { get; private set; }
        public bool Disposed { get; private set; }

        public Tensor Next(Tensor? tokens)
        {
            Calls++;
            return logits.clone();
        }

        public void Reorder(Tensor rowIndex) { }

        public void Dispose() => Disposed = true;
    }
}
