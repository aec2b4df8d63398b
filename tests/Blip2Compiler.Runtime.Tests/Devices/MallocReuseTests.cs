using System.Runtime.InteropServices;

namespace Blip2Compiler.Runtime.Tests.Devices;

/// <summary>
/// <see cref="MallocReuse"/> reaches glibc's malloc: afterwards an 8 MiB block comes from the heap, not a fresh
/// mapping (glibc's own count of mapped blocks, <c>mallinfo2().hblks</c>, stays), and the user's own tuning is kept.
/// </summary>
public sealed class MallocReuseTests
{
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 Info();

    [DllImport("libc", EntryPoint = "malloc")]
    private static extern IntPtr Malloc(nuint size);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr block);

    private static bool UserTuned =>
        (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc", StringComparison.Ordinal)
        || new[] { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_" }.Any(n => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(n)));

    [Fact]
    public void BlocksUnderTheThresholdComeFromTheHeap()
    {
        if (!OperatingSystem.IsLinux() || UserTuned) return;
        Assert.True(MallocReuse.Apply());
        var mapped = Info().HBlks;
        var block = Malloc(8 << 20);
        try
        {
            Assert.NotEqual(IntPtr.Zero, block);
            Assert.Equal(mapped, Info().HBlks);
        }
        finally
        {
            Free(block);
        }
    }

    [Fact]
    public void TheUsersOwnTuningIsKept()
    {
        if (!OperatingSystem.IsLinux() || UserTuned) return;
        Environment.SetEnvironmentVariable("MALLOC_TOP_PAD_", "131072");
        try
        {
            Assert.False(MallocReuse.Apply());
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_TOP_PAD_", null);
        }
    }
}
