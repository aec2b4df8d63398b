using System.Runtime.InteropServices;

namespace Blip2Compiler.Runtime.Tests.Devices;

/// <summary>
/// The OpenMP wait policy reaches the native environment libgomp reads (not only .NET's managed copy of it, which is
/// all <c>Environment.SetEnvironmentVariable</c> changes on Unix), and a value the user set is kept.
/// </summary>
public sealed class OpenMpWaitPolicyTests
{
    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr NativeGetEnv(string name);

    private static string? Native(string name) => Marshal.PtrToStringUTF8(NativeGetEnv(name));

    [Fact]
    public void TheNativeEnvironmentSaysPassiveUnlessTheUserChose()
    {
        if (OperatingSystem.IsWindows()) return;
        var user = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.Variable);
        var applied = OpenMpWaitPolicy.ApplyPassiveDefault();
        Assert.Equal(string.IsNullOrEmpty(user), applied);
        Assert.Equal(string.IsNullOrEmpty(user) ? "PASSIVE" : user, Native(OpenMpWaitPolicy.Variable));
    }
}
