using System.Text;

namespace Blip2.Cli.Jobs;

/// <summary>
/// The output folder of a job, shared by all its workers: one JSON Lines part per input unit
/// (<c>part-&lt;ordinal&gt;-&lt;unit&gt;.jsonl</c>), written to a temporary file and renamed into place when whole, and
/// one manifest per worker. A part file that exists is finished: a rerun skips it. A temporary file is a part that
/// was being written when its worker died: the worker that owns the unit deletes it and writes the part again.
/// </summary>
internal sealed class JobFolder
{
    public const string PartExtension = ".jsonl";
    private const string TempExtension = ".tmp";

    public JobFolder(string path)
    {
        Path = path;
        if (File.Exists(path)) throw new UsageException($"--output-dir '{path}' is a file: give a folder (created if missing)");
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Blip2Compiler.Blip2Exception($"--output-dir '{path}' cannot be created: {e.Message}");
        }
    }

    public string Path { get; }

    public static string PartFile(int ordinal, InputUnit unit) => $"part-{ordinal:D6}-{Safe(unit.Name)}{PartExtension}";

    public string Full(string file) => System.IO.Path.Combine(Path, file);

    public bool IsWritten(string partFile) => File.Exists(Full(partFile));

    /// <summary>
    /// Refuses a folder that holds another job's manifests (<see cref="JobMismatchException"/>): anything but this job
    /// with the same worker count. Compared setting by setting, so the error says which one changed.
    /// </summary>
    public void CheckSameJob(JobIdentity job)
    {
        foreach (var file in Directory.EnumerateFiles(Path, "manifest-*.json").Order(StringComparer.Ordinal))
        {
            if (JobManifest.Read(file) is not { } other) continue;
            var before = other.Job;
            if (before == job) continue;
            var (setting, was, now) =
                before.Task != job.Task ? ("task", before.Task, job.Task)
                : before.Model != job.Model ? ("model", before.Model, job.Model)
                : before.Settings != job.Settings ? ("settings", before.Settings, job.Settings)
                : before.Inputs != job.Inputs || before.Units != job.Units ? ("inputs", $"{before.Units} units ({before.Inputs})", $"{job.Units} units ({job.Inputs})")
                : ("number of workers", before.Shards.ToString(), job.Shards.ToString());
            throw new JobMismatchException(Path, setting, was, now);
        }
    }

    /// <summary>Deletes what a killed worker left of a part (its temporary files): the part is written again.</summary>
    public int DeleteUnfinished(string partFile)
    {
        int deleted = 0;
        foreach (var temp in Directory.EnumerateFiles(Path, "." + partFile + ".*" + TempExtension))
        {
            File.Delete(temp);
            deleted++;
        }
        return deleted;
    }

    /// <summary>A part being written: lines go to a temporary file in the folder, renamed to the part when committed.</summary>
    public PartWriter BeginPart(string partFile) =>
        new(System.IO.Path.Combine(Path, $".{partFile}.{Environment.ProcessId}{TempExtension}"), Full(partFile));

    /// <summary>Writes the manifest whole: a temporary file, then a rename over the old one.</summary>
    public void WriteManifest(JobManifest manifest)
    {
        var target = Full(JobManifest.FileName(manifest.Shard, manifest.Job.Shards));
        var temp = target + "." + Environment.ProcessId + TempExtension;
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(manifest.ToJson()));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, target, overwrite: true);
    }

    /// <summary>Counts a written part's records (a rerun's manifest lists the parts an earlier run wrote).</summary>
    public (int Records, int Failed) Count(string partFile)
    {
        int records = 0, failed = 0;
        foreach (var line in File.ReadLines(Full(partFile)))
        {
            if (line.Length == 0) continue;
            records++;
            using var record = System.Text.Json.JsonDocument.Parse(line);
            if (record.RootElement.TryGetProperty("error", out _)) failed++;
        }
        return (records, failed);
    }

    private static string Safe(string name)
    {
        var safe = new StringBuilder(name.Length);
        foreach (var c in name) safe.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        return safe.ToString();
    }
}

/// <summary>One part being written (<see cref="JobFolder.BeginPart"/>): committed whole, or deleted.</summary>
internal sealed class PartWriter : IDisposable
{
    private readonly string _temp, _target;
    private readonly FileStream _stream;
    private readonly StreamWriter _writer;
    private bool _committed;

    public PartWriter(string temp, string target)
    {
        (_temp, _target) = (temp, target);
        _stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1 << 16);
        _writer = new StreamWriter(_stream, new UTF8Encoding(false)) { NewLine = "\n" };
    }

    public int Records { get; private set; }
    public int Failed { get; private set; }

    public void Write(string jsonLine, bool failed)
    {
        _writer.WriteLine(jsonLine);
        Records++;
        if (failed) Failed++;
    }

    /// <summary>Flushed to disk, then renamed into place: after a crash the part is there whole or not at all.</summary>
    public void Commit()
    {
        _writer.Flush();
        _stream.Flush(flushToDisk: true);
        _writer.Dispose();
        File.Move(_temp, _target, overwrite: false);
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        _writer.Dispose();
        try { File.Delete(_temp); } catch (IOException) { }
    }
}
