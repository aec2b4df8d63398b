namespace Blip2Compiler.Checkpoints;

/// <summary>
/// A readable checkpoint that does not fit the model. The message names a few keys per kind of problem and counts the
/// rest; <see cref="Report"/> and the lists here hold every disagreement.
/// </summary>
public sealed class CheckpointMismatchException : Blip2Exception
{
    public CheckpointMismatchException(string checkpoint, LoadReport report, bool strict)
        : base($"{checkpoint} does not match the model: {report.Describe(strict)}")
    {
        Checkpoint = checkpoint;
        Report = report;
    }

    public string Checkpoint { get; }

    public LoadReport Report { get; }

    /// <summary>Every model parameter the checkpoint lacks.</summary>
    public IReadOnlyList<string> MissingParameters => [.. Report.Missing.Select(m => m.Parameter)];

    /// <summary>Every checkpoint key the model does not use (a problem only when loading strictly).</summary>
    public IReadOnlyList<string> UnexpectedKeys => Report.Unexpected;

    /// <summary>Every parameter whose checkpoint tensor has another shape.</summary>
    public IReadOnlyList<string> MisShapedParameters => [.. Report.MisShaped.Select(m => m.Parameter)];
}
