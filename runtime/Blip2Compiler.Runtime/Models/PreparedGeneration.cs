using Blip2Compiler.Generation;

namespace Blip2Compiler.Models;

/// <summary>
/// A generation run that passed the prelude (<see cref="Blip2ConditionalGeneration.PrepareGeneration"/>): the merged,
/// validated options for <see cref="Batch"/> prompts of <see cref="PromptIds"/> ids each. The captioner prepares
/// before it decodes its images and runs with it after, so the prelude runs once per caption.
/// </summary>
internal sealed record PreparedGeneration(GenerationOptions Settings, long Batch, long PromptIds);
