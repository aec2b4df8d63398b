using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Models;

/// <summary>The language model's outputs for text alone (Blip2Model.get_text_features of an encoder–decoder): logits,
/// the loss against labels when given, and the stacks' outputs (<see cref="Seq2SeqOutputs"/>).</summary>
public sealed record Blip2TextOutput(Tensor Logits, Tensor? Loss, Seq2SeqOutputs LanguageModel);
