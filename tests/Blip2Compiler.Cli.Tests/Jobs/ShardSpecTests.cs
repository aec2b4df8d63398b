using Blip2.Cli;
using Blip2.Cli.Jobs;

namespace Blip2Compiler.Tests.CommandLine.Jobs;

/// <summary>Which worker takes which unit: --shard, Kubernetes' and Slurm's variables (issue 17).</summary>
public class ShardSpecTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void NWorkersTakeEveryUnitExactlyOnce()
    {
        foreach (var n in new[] { 1, 2, 3, 4, 7 })
        {
            var owners = Enumerable.Range(0, 50).Select(u => Enumerable.Range(0, n).Where(i => new ShardSpec(i, n).Owns(u)).ToList()).ToList();
            Assert.All(owners, o => Assert.Single(o));
            // Balanced: shares differ by at most one unit.
            var shares = Enumerable.Range(0, n).Select(i => owners.Count(o => o[0] == i)).ToList();
            Assert.True(shares.Max() - shares.Min() <= 1, string.Join(",", shares));
        }
    }

    [Fact]
    public void ShardOptionWins()
    {
        Assert.Equal(new ShardSpec(2, 4), ShardSpec.Resolve("2/4", null, Env(("JOB_COMPLETION_INDEX", "1"))));
        Assert.Equal(ShardSpec.Whole, ShardSpec.Resolve(null, null, Env()));
    }

    [Fact]
    public void KubernetesIndexedJobNeedsShards()
    {
        Assert.Equal(new ShardSpec(3, 8), ShardSpec.Resolve(null, 8, Env(("JOB_COMPLETION_INDEX", "3"))));
        var e = Assert.Throws<UsageException>(() => ShardSpec.Resolve(null, null, Env(("JOB_COMPLETION_INDEX", "3"))));
        Assert.Contains("--shards", e.Message);
    }

    [Fact]
    public void SlurmArraysCountFromTheirMinimumInSteps()
    {
        Assert.Equal(new ShardSpec(0, 4), ShardSpec.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4"))));
        Assert.Equal(new ShardSpec(3, 4), ShardSpec.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "6"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_STEP", "2"), ("SLURM_ARRAY_TASK_COUNT", "4"))));
    }

    [Theory]
    [InlineData("4/4")]
    [InlineData("-1/4")]
    [InlineData("1-4")]
    [InlineData("a/b")]
    [InlineData("0/0")]
    public void BadSharesAreUsageErrors(string shard) =>
        Assert.Throws<UsageException>(() => ShardSpec.Resolve(shard, null, Env()));

    [Fact]
    public void ShardsWithoutAnIndexIsAUsageError() =>
        Assert.Throws<UsageException>(() => ShardSpec.Resolve(null, 4, Env()));
}
