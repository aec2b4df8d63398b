namespace Blip2Compiler.Checkpoints;

/// <summary>
/// <see cref="Models.Blip2PreTrainedModel.SaveCheckpoint"/> was pointed at a folder that already holds safetensors weights:
/// writing beside them would leave a checkpoint whose files disagree (a new index beside an old single file, which
/// loaders prefer), and overwriting would destroy them. Nothing is written.
/// </summary>
public sealed class CheckpointExistsException(string folder, string file)
    : Blip2Exception($"{folder}: already holds {System.IO.Path.GetFileName(file)}; save into an empty folder or one without safetensors weights (nothing was written)")
{
    public string Folder { get; } = folder;

    /// <summary>The weights file found there.</summary>
    public string File { get; } = file;
}
