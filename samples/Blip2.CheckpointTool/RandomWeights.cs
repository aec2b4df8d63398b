namespace Blip2.CheckpointTool;

/// <summary>
/// Deterministic random weights: each tensor from its own generator seeded by (seed, key), so the bytes never depend
/// on the platform, the torch version, or the order of other tensors. Norm weights are ones, biases N(0, 0.02),
/// everything else N(0, 1/sqrt(fan_in)) so the tiny model's outputs are not all alike.
/// </summary>
public static class RandomWeights
{
    public static float[] Create(StoredTensor tensor, ulong seed)
    {
        long count = tensor.Shape.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        if (IsNormWeight(tensor.Key))
        {
            Array.Fill(values, 1f);
            return values;
        }
        double std = tensor.Key.EndsWith(".bias", StringComparison.Ordinal) || tensor.Shape.Length < 2
            ? 0.02
            : 1.0 / Math.Sqrt(tensor.Shape[1..].Aggregate(1L, (a, b) => a * b));
        var rng = new SplitMix64(seed ^ Fnv1a(tensor.Key));
        for (long i = 0; i < count; i += 2)
        {
            // Box–Muller: two normals from two uniforms in (0, 1].
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            values[i] = (float)(std * r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < count) values[i + 1] = (float)(std * r * Math.Sin(2 * Math.PI * u2));
        }
        return values;
    }

    private static bool IsNormWeight(string key) =>
        key.EndsWith(".weight", StringComparison.Ordinal) && key.Contains("norm", StringComparison.OrdinalIgnoreCase);

    private static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037;
        foreach (char c in text) hash = (hash ^ c) * 1099511628211;
        return hash;
    }

    private struct SplitMix64(ulong state)
    {
        private ulong _state = state;

        public double NextDouble()
        {
            ulong z = _state += 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return ((z ^ (z >> 31)) >> 11) * (1.0 / (1UL << 53));
        }
    }
}
