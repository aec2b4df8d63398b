namespace Blip2Compiler.Checkpoints;

/// <summary>A readable checkpoint that does not fit the model; <see cref="Report"/> lists every disagreement.</summary>
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
}
