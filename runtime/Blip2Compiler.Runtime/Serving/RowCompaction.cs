namespace Blip2Compiler.Serving;

/// <summary>
/// What every <see cref="IRowBatch"/> shares about its rows: which slots move where when rows leave
/// (<see cref="IRowBatch.Keep"/>), and how many positions a step's attention reads.
/// </summary>
internal static class RowCompaction
{
    // Attention reads the first `window` positions of every row: the longest row's, rounded up so the views and
    // masks are the same shape for many steps. Masked positions weigh exactly zero, so the rounding is free of
    // effect on the result.
    private const int WindowQuantum = 32;

    /// <summary>The positions a step attends to: past <paramref name="longest"/> to the next multiple of 32, at most the capacity.</summary>
    public static long Window(long longest, int capacity) =>
        Math.Min(capacity, (longest + WindowQuantum) / WindowQuantum * WindowQuantum);

    /// <summary>
    /// The slots that move for <see cref="IRowBatch.Keep"/>: kept row <c>rows[i]</c> goes to slot i (rows already in
    /// place stay). <paramref name="rows"/> must be ascending running rows (below <paramref name="running"/>).
    /// </summary>
    public static (long[] From, long[] To) Moves(IReadOnlyList<int> rows, int running)
    {
        var from = new List<long>();
        var to = new List<long>();
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows[i] < i || rows[i] >= running || (i > 0 && rows[i] <= rows[i - 1]))
                throw new ArgumentException("rows to keep must be ascending running rows", nameof(rows));
            if (rows[i] == i) continue;
            from.Add(rows[i]);
            to.Add(i);
        }
        return ([.. from], [.. to]);
    }
}
