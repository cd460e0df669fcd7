using System.Collections.Concurrent;
using System.Diagnostics;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Panel.Core;
using Panel.Core.Jobs;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

/// <summary>Hangfire as the panel configures it: PostgreSQL storage in its own schema with LISTEN/NOTIFY.</summary>
public sealed class JobsTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task EnqueuedJob_StartsInWellUnderThePollInterval_ThanksToLongPolling()
    {
        var options = new JobsOptions { RunServer = true, NodeName = "latency-" + Guid.NewGuid().ToString("N")[..8], WorkerCount = 2, Schema = "hangfire_latency" };
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPanelJobs(Fixture.Database.ConnectionString, options);
        await using var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var h in hosted)
        {
            await h.StartAsync(TestContext.Current.CancellationToken);
        }

        try
        {
            var client = provider.GetRequiredService<IBackgroundJobClient>();
            // Warm-up: the first job pays for connection set-up.
            await RunAsync(client, options.NodeName);

            var latencies = new List<TimeSpan>();
            for (var i = 0; i < 5; i++)
            {
                latencies.Add(await RunAsync(client, options.NodeName));
            }

            latencies.Max().ShouldBeLessThan(TimeSpan.FromSeconds(2), "the queue poll interval is 15 s, so only NOTIFY can make this fast");
        }
        finally
        {
            foreach (var h in hosted)
            {
                await h.StopAsync(CancellationToken.None);
            }
        }
    }

    [Theory]
    [InlineData("local", "node-local")]
    [InlineData("Node 2.Example", "node-node_2_example")]
    public void NodeQueue_IsAValidHangfireQueueName(string node, string queue)
        => JobsServiceCollectionExtensions.NodeQueue(node).ShouldBe(queue);

    private static async Task<TimeSpan> RunAsync(IBackgroundJobClient client, string node)
    {
        var id = Guid.NewGuid();
        var sw = Stopwatch.StartNew();
        var tcs = LatencyProbeJob.Expect(id);
        client.Create<LatencyProbeJob>(j => j.Run(id), new Hangfire.States.EnqueuedState(JobsServiceCollectionExtensions.NodeQueue(node)));
        await tcs.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return sw.Elapsed;
    }
}

/// <summary>A job that only signals that it ran (it lives in the test assembly, run by the test's own server).</summary>
public sealed class LatencyProbeJob
{
    private static readonly ConcurrentDictionary<Guid, TaskCompletionSource> Waiting = new();

    /// <summary>Registers interest in the run of job <paramref name="id"/>.</summary>
    public static TaskCompletionSource Expect(Guid id) => Waiting.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Signals the waiting test.</summary>
    public void Run(Guid id)
    {
        if (Waiting.TryRemove(id, out var tcs))
        {
            tcs.TrySetResult();
        }
    }
}
