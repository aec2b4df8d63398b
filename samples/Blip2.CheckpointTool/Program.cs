using Blip2.CheckpointTool;
using Blip2Compiler.Checkpoints;
using TorchSharp;

// Writes model.safetensors for the bundled tiny checkpoints: RANDOM WEIGHTS, for smoke tests only.
// Usage: dotnet run --project samples/Blip2.CheckpointTool [-- <checkpoints folder>] (default: samples/checkpoints)
const ulong Seed = 20240229;
var root = args.Length > 0 ? args[0] : Path.Combine(FindRepoRoot(), "samples", "checkpoints");

Write("blip2-tiny-opt", TinyOpt.KeyMap);
Write("blip2-tiny-itm", TinyItm.KeyMap);
Write("blip2-tiny-t5", TinyT5.KeyMap);
return 0;

void Write(string name, KeyMap map)
{
    var layout = CheckpointLayout.FromKeyMap(map);
    var path = Path.Combine(root, name, "model.safetensors");
    using var scope = torch.NewDisposeScope();
    var tensors = layout.ToDictionary(t => t.Key, t => torch.tensor(RandomWeights.Create(t, Seed), t.Shape));
    SafetensorsWriter.Write(path, tensors);
    Console.WriteLine($"{path}: {layout.Count} tensors, {new FileInfo(path).Length:N0} bytes");
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Blip2Compiler.sln"))) return dir.FullName;
    throw new DirectoryNotFoundException("Blip2Compiler.sln not found above " + AppContext.BaseDirectory);
}
