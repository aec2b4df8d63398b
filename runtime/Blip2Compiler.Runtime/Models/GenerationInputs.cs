using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>
/// What <see cref="Blip2ConditionalGeneration.Generate(GenerationInputs, Generation.GenerationOptions?, CancellationToken)"/> decodes
/// from, as Hugging Face's <c>Blip2ForConditionalGeneration.generate</c> takes it: pixel values [batch, 3, H, W], and
/// the prompt ids [batch, length] with their attention mask (left padded, as the processor builds them). Without
/// input ids the prompt is the reference's own (num_query_tokens image tokens, then BOS).
/// </summary>
public sealed record GenerationInputs(Tensor PixelValues, Tensor? InputIds = null, Tensor? AttentionMask = null, bool InterpolatePosEncoding = false);
