namespace Blip2Compiler.Generation;

/// <summary>
/// The row counts a static decoding step is built for: a run of r rows decodes min{b ≥ r} of these, its extra rows
/// copies of its last one whose results are dropped, so that a captured step is reused by every run of its bucket.
/// Above the largest, a run decodes its own row count.
/// </summary>
public static class BatchBuckets
{
    public static IReadOnlyList<int> Sizes { get; } = [1, 2, 4, 8, 16, 32];

    /// <summary>The bucket of <paramref name="rows"/> rows (positive).</summary>
    public static long For(long rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        foreach (var size in Sizes)
            if (rows <= size) return size;
        return rows;
    }
}
