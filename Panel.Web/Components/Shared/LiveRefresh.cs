namespace Panel.Web.Components.Shared;

/// <summary>
/// The refresh loop of a live page: reloads its data every period and renders it again, until the
/// page goes away (its token is cancelled). While the database is away for a moment the page keeps
/// showing what it last had and tries again at the next tick. Pages start it from an <c>async</c>
/// method and discard the task: a page disposed before its loop starts has a disposed token, and that
/// exception must end the discarded task, not the page's circuit.
/// </summary>
internal static class LiveRefresh
{
    /// <summary>Runs the loop; returns when <paramref name="stop"/> is cancelled.</summary>
    /// <param name="period">Time between reloads.</param>
    /// <param name="reload">Loads the page's data.</param>
    /// <param name="render">Renders the page again (the component's <c>InvokeAsync(StateHasChanged)</c>).</param>
    /// <param name="stop">Cancelled when the page is disposed.</param>
    public static async Task RunAsync(TimeSpan period, Func<CancellationToken, Task> reload, Func<Task> render, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    await reload(stop);
                    await render();
                }
                catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
                {
                    // The database is away for a moment: keep the last data, try again next tick.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
