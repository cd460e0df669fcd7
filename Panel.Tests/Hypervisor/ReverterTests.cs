using Panel.Hypervisor.Concurrency;

namespace Panel.Tests.Hypervisor;

public sealed class ReverterTests
{
    [Fact]
    public async Task Dispose_WithoutSuccess_UndoesStepsNewestFirst_AndRecordsFailingUndos()
    {
        var undone = new List<string>();
        var reverter = new Reverter();
        reverter.Add("one", () => undone.Add("one"));
        reverter.Add("two", () => throw new InvalidOperationException("boom"));
        reverter.Add("three", () => undone.Add("three"));

        await reverter.DisposeAsync();

        undone.ShouldBe(["three", "one"]);
        reverter.Failures.ShouldBe(["two: boom"]);
    }

    [Fact]
    public async Task Dispose_AfterSuccess_KeepsEverything()
    {
        var undone = false;
        var reverter = new Reverter();
        reverter.Add("step", () => undone = true);
        reverter.Success();

        await reverter.DisposeAsync();

        undone.ShouldBeFalse();
    }

    [Fact]
    public async Task InstanceLocks_SerializeOperationsOnOneInstance_ButNotAcrossInstances()
    {
        var locks = new InstanceLocks();
        var first = await locks.AcquireAsync("a");
        var second = locks.AcquireAsync("a");
        var other = locks.AcquireAsync("b");

        (await other).Dispose();
        second.IsCompleted.ShouldBeFalse();
        first.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }
}
