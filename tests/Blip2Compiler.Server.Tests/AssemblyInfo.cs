// Test classes run one after another: each serves a model whose every op already uses all cores, and the real
// `blip2 serve` processes beside the in-process servers would only fight over them.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
