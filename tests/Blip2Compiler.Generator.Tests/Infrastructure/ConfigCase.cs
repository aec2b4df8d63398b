namespace Blip2Compiler.Generator.Tests.Infrastructure;

/// <summary>
/// A configuration the generator is run on in the snapshot and "published configs compile" tests: a config.json on
/// disk, added to the virtual project as AdditionalFiles item <c>Configs/{Name}/config.json</c> and named by
/// <c>[Blip2Model("{Name}/config.json")]</c> on class <see cref="ClassName"/>.
/// </summary>
public sealed record ConfigCase(string Name, string ClassName, string ConfigFile)
{
    public string AdditionalFilePath => "Configs/" + Name + "/config.json";

    public string Source => $$"""
        namespace Blip2Compiler.Models;

        [Blip2Compiler.Blip2Model("{{Name}}/config.json")]
        public partial class {{ClassName}};
        """;

    public override string ToString() => Name;
}
