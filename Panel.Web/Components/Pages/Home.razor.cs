using Microsoft.AspNetCore.Components;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages;

/// <summary>A customer's home; admins are sent to the admin dashboard.</summary>
public sealed partial class Home
{
    private CustomerOverview? overview;

    [Inject]
    private DashboardService Dashboard { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var actor = await CurrentActor.GetAsync();
        if (actor.IsAdmin)
        {
            Navigation.NavigateTo("/admin");
            return;
        }

        overview = await Dashboard.GetCustomerOverviewAsync(actor);
    }
}
