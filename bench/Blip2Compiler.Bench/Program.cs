using Blip2Compiler.Bench;

// Usage: dotnet run -c Release --project bench/Blip2Compiler.Bench -- <benchmark[,benchmark...]|all|list> [options]
// (--config mid|mid-t5|mid-itm|opt-2.7b|flan-t5-xl|itm-vit-g --device cpu|cuda --dtype float32|float16|bfloat16
//  --warmup N --iterations N --threads N --seconds S); one JSON line per result on stdout.
// The load benchmark measures each load in a fresh process (its peak RSS is then that load's), started as this.
if (args.Length > 0 && args[0] == Blip2Compiler.Bench.Benchmarks.LoadBenchmark.ChildCommand)
    return Blip2Compiler.Bench.Benchmarks.LoadBenchmark.RunChild(args[1..]);
if (args.Length > 0 && args[0] == Blip2Compiler.Bench.Benchmarks.LoadBenchmark.WriteCommand)
    return Blip2Compiler.Bench.Benchmarks.LoadBenchmark.RunWrite(args[1..]);
if (args.Length > 0 && args[0] == Blip2Compiler.Bench.Benchmarks.LoadBenchmark.TruncateCommand)
    return Blip2Compiler.Bench.Benchmarks.LoadBenchmark.RunTruncate(args[1..]);
if (args.Length > 0 && args[0] == Blip2Compiler.Bench.Benchmarks.JobBenchmark.ChildCommand)
    return Blip2Compiler.Bench.Benchmarks.JobBenchmark.RunChild(args[1..]);

var benchmarks = typeof(IBenchmark).Assembly.GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name)
    .ToList();

if (args.Length == 0 || args[0] is "list" or "--help" or "-h")
{
    Console.Error.WriteLine("usage: Blip2Compiler.Bench <benchmark|all|list> [options]");
    Console.Error.WriteLine("  " + BenchmarkOptions.Usage);
    foreach (var b in benchmarks) Console.Error.WriteLine($"  {b.Name,-16} {b.Description}");
    return args.Length == 0 ? 1 : 0;
}

// One benchmark, several joined by commas (one process and one model for all: caption,decode-token), or all.
var names = args[0].Split(',', StringSplitOptions.RemoveEmptyEntries);
var selected = args[0] == "all" ? benchmarks : names.Select(n => benchmarks.FirstOrDefault(b => b.Name == n)).OfType<IBenchmark>().ToList();
if (selected.Count == 0 || (args[0] != "all" && selected.Count != names.Length))
{
    Console.Error.WriteLine($"unknown benchmark '{args[0]}'; known: {string.Join(", ", benchmarks.Select(b => b.Name))}");
    return 1;
}

BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args[1..]);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

var report = new JsonReport(Console.Out);
foreach (var benchmark in selected) benchmark.Run(options, report);
return 0;
