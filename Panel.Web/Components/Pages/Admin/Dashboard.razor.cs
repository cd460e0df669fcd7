using System.Globalization;
using Microsoft.AspNetCore.Components;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>The admin overview: accounts, jobs, this node and recent activity, read from the database.</summary>
public sealed partial class Dashboard
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private AdminOverview? overview;
    private bool signUpEnabled;
    private string? error;

    [Inject]
    private DashboardService DashboardService { get; set; } = default!;

    [Inject]
    private SettingsService Settings { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        try
        {
            overview = await DashboardService.GetAdminOverviewAsync(await CurrentActor.GetAsync());
            signUpEnabled = await Settings.IsSignUpEnabledAsync();
        }
        catch (Npgsql.NpgsqlException ex)
        {
            error = $"The database did not answer: {ex.Message}";
        }
    }

    internal static string KindText(Panel.Hypervisor.Instances.VirtualizationKind kind) => kind switch
    {
        Panel.Hypervisor.Instances.VirtualizationKind.Container => "containers, shared kernel",
        Panel.Hypervisor.Instances.VirtualizationKind.ParaVirtual => "para-virtual, own kernel",
        _ => "full virtual machines",
    };

    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(Inv, $"{bytes / (double)(1L << 30):0.0} GiB"),
        >= 1L << 20 => string.Create(Inv, $"{bytes / (double)(1L << 20):0} MiB"),
        _ => string.Create(Inv, $"{bytes} B"),
    };
}
