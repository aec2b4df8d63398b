namespace Blip2Compiler.Checkpoints.Torch;

/// <summary>
/// A pickled checkpoint names a Python global that a tensor state dict does not need (<c>os.system</c>,
/// <c>builtins.eval</c>, a model class saved whole with <c>torch.save(model)</c>, a TorchScript archive's
/// <c>__torch__</c> classes). Nothing is ever executed: the unpickler refuses the name as soon as it reads it, as
/// <c>torch.load(weights_only=True)</c> does.
/// </summary>
public sealed class PickleGlobalNotAllowedException(string file, string module, string name)
    : Blip2Exception($"{file}: the pickle names the global '{module}.{name}', which a tensor state dict does not need; " +
        $"it is refused (only {RestrictedUnpickler.AllowedText} are read). A whole pickled model or a TorchScript archive " +
        "is not a state dict: save model.state_dict(), or convert with transformers' save_pretrained")
{
    /// <summary>The pickle file (the archive's <c>data.pkl</c> is inside <see cref="File"/>).</summary>
    public string File { get; } = file;

    /// <summary>The global's module, e.g. <c>os</c>.</summary>
    public string Module { get; } = module;

    /// <summary>The global's name, e.g. <c>system</c>.</summary>
    public string Name { get; } = name;

    /// <summary><c>module.name</c>.</summary>
    public string Global => Module + "." + Name;
}
