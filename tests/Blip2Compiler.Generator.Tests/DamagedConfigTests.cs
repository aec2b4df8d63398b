using Blip2Compiler.Generator.Tests.Infrastructure;
using static Blip2Compiler.Generator.Tests.Infrastructure.GeneratorHarness;

namespace Blip2Compiler.Generator.Tests;

/// <summary>
/// Published config.json files with random characters overwritten (deterministic seeds) through the generator: it
/// either compiles or reports diagnostics, never throws and never reports an internal error (BLIP2099).
/// </summary>
public class DamagedConfigTests
{
    [Theory]
    [InlineData("blip2-opt-2.7b", 1)]
    [InlineData("blip2-flan-t5-xl", 2)]
    [InlineData("blip2-itm-vit-g", 3)]
    public void DamagedConfigsGiveDiagnosticsNotCrashes(string name, int seed)
    {
        var original = System.IO.File.ReadAllText(RepoPaths.PublishedConfig(name));
        var random = new Random(seed);
        const string alphabet = "{}[]\",:0123456789-.eE truefalsnul\\x";
        for (var round = 0; round < 40; round++)
        {
            var chars = original.ToCharArray();
            for (var n = random.Next(1, 5); n > 0; n--) chars[random.Next(chars.Length)] = alphabet[random.Next(alphabet.Length)];
            var result = Run("""
                [Blip2Compiler.Blip2Model("config.json")]
                public partial class M;
                """, File("config.json", new string(chars)));
            Assert.Null(result.Exception);
            Assert.DoesNotContain(result.Diagnostics, d => d.Id == "BLIP2099");
        }
    }
}
