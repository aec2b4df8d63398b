namespace Blip2Compiler.Tests.CommandLine;

/// <summary>Inputs that would take unbounded time or memory are refused with a typed error (issue 12, item 3).</summary>
public class InputBoundTests
{
    [Fact]
    public async Task BeamsPastTheBoundIsAUsageErrorBeforeAnyWork()
    {
        var line = (await CliRun.Run("caption", CliRun.Photo, "--beams", "100000", "--model", CliRun.TinyOpt)).AssertOneError(2);
        Assert.Contains("--beams is 100000", line);
        Assert.Contains("128", line);
    }

    [Fact]
    public async Task BeamsAtTheBoundAreAccepted()
    {
        var run = await CliRun.Run("caption", CliRun.Photo, "--beams", "128", "--max-new-tokens", "1", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
    }

    [Fact]
    public async Task EndlessStdinStopsAtTheFileLimit()
    {
        var stream = new EndlessZeros();
        var line = (await CliRun.RunWithStdin(() => stream, "caption", "-", "--model", CliRun.TinyOpt)).AssertOneError(1);
        Assert.Contains("<stdin>", line);
        Assert.Contains("268435456", line);
        // Read to one chunk past the limit, no further.
        Assert.InRange(stream.Position, 256L << 20, (257L << 20));
    }

    [Fact]
    public async Task ADeviceThatNeverEndsStopsAtTheFileLimit()
    {
        // /dev/zero reports a length of 0; it was read whole until the process ran out of memory.
        var run = await CliRun.Run("caption", "/dev/zero", "--model", CliRun.TinyOpt);
        var line = Assert.Single(run.AssertInputErrors());
        Assert.StartsWith("blip2: error: /dev/zero: longer than the limit of 268435456 bytes", line);
    }

    [Fact]
    public async Task ALinkLoopInAFolderEndsAndEachRealFileIsCaptionedOnce()
    {
        using var temp = new TempFolder();
        File.Copy(CliRun.Photo, temp.File("a.png"));
        File.Copy(CliRun.Photo, temp.File("sub/b.png"));
        Directory.CreateSymbolicLink(Path.Combine(temp.Path, "sub", "loop"), temp.Path);
        File.CreateSymbolicLink(Path.Combine(temp.Path, "same-as-a.png"), Path.Combine(temp.Path, "a.png"));
        var run = await CliRun.Run("caption", temp.Path, "--max-new-tokens", "2", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal([Path.Combine(temp.Path, "a.png"), Path.Combine(temp.Path, "sub", "b.png")], run.OutLines.Select(l => l.Split('\t')[0]));
    }

    [Fact]
    public async Task ALinkedSubfolderIsFollowed()
    {
        using var temp = new TempFolder();
        using var elsewhere = new TempFolder();
        File.Copy(CliRun.Photo, elsewhere.File("far.png"));
        File.Copy(CliRun.Photo, temp.File("near.png"));
        Directory.CreateSymbolicLink(Path.Combine(temp.Path, "linked"), elsewhere.Path);
        var run = await CliRun.Run("caption", temp.Path, "--max-new-tokens", "2", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal([Path.Combine(temp.Path, "linked", "far.png"), Path.Combine(temp.Path, "near.png")], run.OutLines.Select(l => l.Split('\t')[0]));
    }

    /// <summary>/dev/zero as a stream that counts what was read.</summary>
    private sealed class EndlessZeros : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Clear(buffer, offset, count);
            _position += count;
            return count;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
