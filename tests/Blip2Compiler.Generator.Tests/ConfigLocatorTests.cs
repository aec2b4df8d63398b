using Blip2Compiler.Generator.Declaration;

namespace Blip2Compiler.Generator.Tests;

public class ConfigLocatorTests
{
    [Theory]
    [InlineData("/proj/blip2-opt-2.7b/config.json", "blip2-opt-2.7b/config.json", true)]
    [InlineData("C:\\proj\\blip2-opt-2.7b\\config.json", "blip2-opt-2.7b/config.json", true)]
    [InlineData("/proj/blip2-opt-2.7b/config.json", "./blip2-opt-2.7b\\config.json", true)]
    [InlineData("/proj/blip2-opt-2.7b/config.json", "/proj/blip2-opt-2.7b/config.json", true)]
    [InlineData("/proj/blip2-opt-2.7b/config.json", "/other/blip2-opt-2.7b/config.json", false)]
    [InlineData("/proj/xblip2-opt-2.7b/config.json", "blip2-opt-2.7b/config.json", false)]
    [InlineData("/proj/blip2-opt-2.7b/config.json", "config.json", true)]
    [InlineData("/proj/blip2-opt-2.7b/config.json.bak", "config.json", false)]
    public void Paths_match_on_a_folder_boundary(string file, string attributePath, bool matches) =>
        Assert.Equal(matches, ConfigLocator.IsMatch(file, ConfigLocator.Normalize(attributePath), StringComparison.Ordinal));

    [Theory]
    [InlineData("a/./b/../c/config.json", "a/c/config.json")]
    [InlineData("..\\models\\config.json", "../models/config.json")]
    [InlineData("/x/y/../config.json", "/x/config.json")]
    public void Normalize(string path, string expected) => Assert.Equal(expected, ConfigLocator.Normalize(path));
}
