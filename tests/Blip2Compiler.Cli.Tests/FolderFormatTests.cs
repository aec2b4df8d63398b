namespace Blip2Compiler.Tests.CommandLine;

/// <summary>Folder mode says what it skipped, and error messages list the formats that really decode (issue 12, item 9).</summary>
public class FolderFormatTests
{
    [Fact]
    public async Task SkippedFilesAreCountedByExtension()
    {
        using var temp = new TempFolder();
        File.Copy(CliRun.Photo, temp.File("a.png"));
        foreach (var name in new[] { "b.heic", "c.heic", "d.avif", "e.jp2", "notes.txt" }) temp.File(name, "x");
        var run = await CliRun.Run("caption", temp.Path, "--max-new-tokens", "2", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Single(run.OutLines);
        var note = Assert.Single(run.ErrorLines, l => l.Contains("skipped"));
        Assert.Contains("skipped 5 files in folders, not images this tool decodes (2 .heic, 1 .avif, 1 .jp2, 1 .txt)", note);
        Assert.Contains("TGA", note);
    }

    [Fact]
    public async Task AFolderWithoutDecodableImagesSaysWhatItHolds()
    {
        using var temp = new TempFolder();
        temp.File("photo.heic", "x");
        var line = (await CliRun.Run("caption", temp.Path)).AssertOneError(1);
        Assert.Contains("(its files: 1 .heic)", line);
        Assert.Contains(".ppm", line);
        Assert.Contains(".tga", line);
    }

    [Fact]
    public async Task UnknownFormatErrorListsEveryDecodedFormat()
    {
        using var temp = new TempFolder();
        var junk = temp.File("junk.png", "definitely not an image");
        var line = Assert.Single((await CliRun.Run("caption", junk, "--model", CliRun.TinyOpt)).AssertInputErrors());
        Assert.Contains("supported: BMP, GIF, JPEG, PBM, PNG, TGA, TIFF, Webp", line);
    }

    [Theory]
    [InlineData("gray.pgm", "P5\n2 2\n255\n", 4)]
    [InlineData("color.ppm", "P6\n2 2\n255\n", 12)]
    public async Task NetpbmFilesInAFolderAreCaptioned(string name, string header, int pixelBytes)
    {
        using var temp = new TempFolder();
        File.WriteAllBytes(temp.File(name), [.. System.Text.Encoding.ASCII.GetBytes(header), .. Enumerable.Range(0, pixelBytes).Select(i => (byte)(i * 20))]);
        var run = await CliRun.Run("caption", temp.Path, "--max-new-tokens", "2", "--model", CliRun.TinyOpt);
        Assert.True(run.ExitCode == 0, run.Error);
        // (Random weights may give an empty caption, which the line's trim leaves without its tab.)
        Assert.Equal(Path.Combine(temp.Path, name), Assert.Single(run.OutLines).Split('\t')[0]);
    }
}
