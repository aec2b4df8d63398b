using Blip2Compiler;
using TorchSharp;

// A checkpoint folder with this config.json and its model.safetensors (default: the tiny test fixture, from the repository root).
var checkpoint = args.Length > 0 ? args[0] : "tests/fixtures/golden/blip2-opt/model";
using var model = TinyOpt.Load(checkpoint);

// 2 random images and a prompt of 6 image tokens + BOS + 3 text ids, as the processor would build it.
var pixels = torch.randn(2, 3, TinyOpt.Info.ImageSize, TinyOpt.Info.ImageSize);
long[] row = [.. Enumerable.Repeat(TinyOpt.Info.ImageTokenIndex!.Value, (int)TinyOpt.Info.NumQueryTokens), TinyOpt.Info.BosTokenId!.Value, 10, 11, 12];
var ids = torch.tensor(row).unsqueeze(0).repeat(2, 1);
var output = model.Forward(pixels, ids);
Console.WriteLine($"logits shape: [{string.Join(", ", output.Logits.shape)}]");

/// <summary>Compiled at build time from config.json by the Blip2Compiler source generator.</summary>
[Blip2Model("config.json")]
public partial class TinyOpt;
