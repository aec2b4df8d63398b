using Blip2Compiler;

namespace Blip2.Cli.Output;

/// <summary>
/// Where a batch command's per-input records go, in its --json/--jsonl/text format: a result line on stdout, an
/// error line on stderr (<c>blip2: error: &lt;input&gt;: &lt;reason&gt;</c>) and an error record in the JSON output.
/// --jsonl records are written and flushed one by one; --json collects them for one document at the end. The
/// progress bar is cleared before each line and redrawn after it.
/// </summary>
internal sealed class ResultWriter<TRecord>(RunSettings settings, ProgressBar progress)
{
    private readonly List<TRecord> _records = [];

    public IReadOnlyList<TRecord> Records => _records;
    public int Succeeded { get; private set; }
    public int Failed { get; private set; }

    public void Result(TRecord record, string textLine)
    {
        Succeeded++;
        progress.Clear();
        if (settings.JsonLines) JsonOutput.WriteLine(settings.Out, record);
        else if (settings.Json) _records.Add(record);
        else
        {
            settings.Out.WriteLine(textLine);
            settings.Out.Flush();
        }
        progress.Redraw();
    }

    public void Failure(TRecord record, Blip2Exception error)
    {
        Failed++;
        progress.Clear();
        Cli.Fail(settings.Error, error.Message, ExitCodes.Failure);
        if (settings.JsonLines) JsonOutput.WriteLine(settings.Out, record);
        else if (settings.Json) _records.Add(record);
        progress.Redraw();
    }
}
