using System.Diagnostics;
using Panel.Hypervisor.Drivers.Qemu.Qmp;

namespace Panel.Tests.Hypervisor.Qmp;

/// <summary>The QMP client against a real <c>qemu-system-x86_64</c> (an empty machine: no guest needed to speak QMP).</summary>
public sealed class QmpRealQemuTests : IAsyncDisposable
{
    private const string Qemu = "/usr/bin/qemu-system-x86_64";
    private readonly string socket = Path.Combine(Path.GetTempPath(), $"panel-qmp-{Guid.NewGuid():N}.sock");
    private Process? qemu;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RealQemu_AnswersStatusVersionAndPowerCommands_SendsEvents_AndQuits()
    {
        if (!File.Exists(Qemu))
        {
            Assert.Skip($"{Qemu} is not installed (Debian package qemu-system-x86; ./panel test installs it)");
        }

        StartQemu();
        await using var client = await ConnectWhenReadyAsync();

        client.ServerVersion.Major.ShouldBeGreaterThanOrEqualTo(7);
        (await client.QueryVersionAsync(Ct)).Major.ShouldBe(client.ServerVersion.Major);
        var status = await client.QueryStatusAsync(Ct);
        status.Running.ShouldBeFalse("started with -S: the vCPUs wait for 'cont'");
        status.Status.ShouldBe("prelaunch");

        await client.ContAsync(Ct);
        (await client.QueryStatusAsync(Ct)).Running.ShouldBeTrue();
        (await NextEventAsync(client)).Name.ShouldBe(QmpEventNames.Resume);

        await client.StopAsync(Ct);
        (await client.QueryStatusAsync(Ct)).Status.ShouldBe("paused");
        (await NextEventAsync(client)).Name.ShouldBe(QmpEventNames.Stop);

        var error = await Should.ThrowAsync<QmpException>(() => client.ExecuteAsync("no-such-command", cancellationToken: Ct));
        error.ErrorClass.ShouldBe("CommandNotFound");

        await client.QuitAsync(Ct);
        await qemu!.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        qemu.HasExited.ShouldBeTrue();
    }

    public async ValueTask DisposeAsync()
    {
        if (qemu is { HasExited: false })
        {
            qemu.Kill(entireProcessTree: true);
            await qemu.WaitForExitAsync();
        }

        qemu?.Dispose();
        File.Delete(socket);
    }

    private void StartQemu()
    {
        var start = new ProcessStartInfo(Qemu) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-machine", "none", "-nodefaults", "-display", "none", "-S", "-qmp", $"unix:{socket},server=on,wait=off" })
        {
            start.ArgumentList.Add(a);
        }

        qemu = Process.Start(start)!;
    }

    private async Task<QmpClient> ConnectWhenReadyAsync()
    {
        for (var i = 0; i < 100 && !File.Exists(socket); i++)
        {
            if (qemu!.HasExited)
            {
                Assert.Fail("qemu exited: " + await qemu.StandardError.ReadToEndAsync(Ct));
            }

            await Task.Delay(50, Ct);
        }

        return await QmpClient.ConnectAsync(socket, TimeSpan.FromSeconds(10), Ct);
    }

    private static async Task<QmpEvent> NextEventAsync(QmpClient client)
        => await client.Events.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct);
}
