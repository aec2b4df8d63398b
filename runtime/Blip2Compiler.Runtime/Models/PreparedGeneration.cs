using Blip2Compiler.Generation;

namespace Blip2Compiler.Models;

/// <summary>
/// A generation run that passed the prelude (<see cref="Blip2ConditionalGeneration.PrepareGeneration"/>): the merged,
/// validated options for <see cref="Batch"/> prompts of <see cref="PromptIds"/> ids each, and the plan they resolve to
/// for the decoding loop's context. The captioner prepares before it decodes its images and runs with it after, so the
/// prelude runs once per caption; the serving engine prepares each request once and decodes from it.
/// </summary>
internal sealed record PreparedGeneration(GenerationOptions Settings, GenerationPlan Plan, long Batch, long PromptIds);
