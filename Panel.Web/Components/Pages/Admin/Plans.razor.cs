using System.Globalization;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Plans: the list with prices, a form to create or edit one, retire and offer again.</summary>
public sealed partial class Plans
{
    private IReadOnlyList<PlanAdminView>? plans;
    private PlanForm? form;
    private int? editingId;
    private string? formError;
    private string? errorField;
    private bool saving;

    [Inject]
    private CatalogService Catalog { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override Task OnInitializedAsync() => LoadAsync();

    private async Task LoadAsync() => plans = await Catalog.AdminPlansAsync(await CurrentActor.GetAsync());

    private static string Price(decimal price) => price.ToString("0.00##", CultureInfo.InvariantCulture);

    private void New()
    {
        editingId = null;
        form = new PlanForm();
        formError = errorField = null;
    }

    private void Edit(PlanAdminView plan)
    {
        editingId = plan.Plan.Id;
        form = PlanForm.From(plan);
        formError = errorField = null;
    }

    private void Cancel() => form = null;

    private async Task SaveAsync()
    {
        if (form is null)
        {
            return;
        }

        saving = true;
        try
        {
            var input = form.ToInput();
            var actor = await CurrentActor.GetAsync();
            if (editingId is { } id)
            {
                await Catalog.UpdatePlanAsync(actor, id, input);
            }
            else
            {
                await Catalog.CreatePlanAsync(actor, input);
            }

            Snackbar.Add($"Plan {input.Name.Trim()} saved.", Severity.Success);
            form = null;
            await LoadAsync();
        }
        catch (PanelRefusedException ex)
        {
            formError = ex.Message;
            errorField = ex.Field;
        }
        catch (PanelNotFoundException ex)
        {
            formError = ex.Message;
        }
        finally
        {
            saving = false;
        }
    }

    private async Task ToggleAsync(PlanAdminView plan)
    {
        try
        {
            await Catalog.SetPlanActiveAsync(await CurrentActor.GetAsync(), plan.Plan.Id, !plan.Plan.Active);
            Snackbar.Add(plan.Plan.Active ? $"{plan.Plan.Name} is retired: it cannot be ordered; its servers keep it." : $"{plan.Plan.Name} is on offer again.", Severity.Success);
        }
        catch (PanelNotFoundException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }

        await LoadAsync();
    }

    /// <summary>The form's fields; prices as typed, parsed on save.</summary>
    private sealed class PlanForm
    {
        public string Name { get; set; } = "";

        public string? Description { get; set; }

        public VirtualizationKind Approach { get; set; } = VirtualizationKind.Container;

        public int Vcpus { get; set; } = 1;

        public int MemoryMiB { get; set; } = 512;

        public int DiskGiB { get; set; } = 5;

        public int? PortSpeedMbit { get; set; } = 100;

        public int? MonthlyBandwidthGiB { get; set; } = 1024;

        public string MonthlyPrice { get; set; } = "0";

        public string HourlyPrice { get; set; } = "0";

        public string SetupFee { get; set; } = "0";

        public string? PricePerExtraGb { get; set; }

        public int? ThrottleMbit { get; set; }

        public static PlanForm From(PlanAdminView v) => new()
        {
            Name = v.Plan.Name,
            Description = v.Plan.Description,
            Approach = v.Plan.Approach,
            Vcpus = v.Plan.Vcpus,
            MemoryMiB = (int)(v.Plan.MemoryBytes >> 20),
            DiskGiB = (int)(v.Plan.DiskBytes >> 30),
            PortSpeedMbit = v.Plan.PortSpeedMbit,
            MonthlyBandwidthGiB = v.Plan.MonthlyBandwidthBytes is { } b ? (int)(b >> 30) : null,
            MonthlyPrice = Price(v.Prices.MonthlyPrice),
            HourlyPrice = Price(v.Prices.HourlyPrice),
            SetupFee = Price(v.Prices.SetupFee),
            PricePerExtraGb = v.Prices.PricePerExtraGb is { } g ? Price(g) : null,
            ThrottleMbit = v.Plan.ThrottleMbit,
        };

        public PlanInput ToInput() => new(Name, Approach, Vcpus, MemoryMiB, DiskGiB, Description, PortSpeedMbit, MonthlyBandwidthGiB,
            new PlanPrices(Parse(MonthlyPrice, "MonthlyPrice"), Parse(HourlyPrice, "HourlyPrice"), Parse(SetupFee, "SetupFee"),
                string.IsNullOrWhiteSpace(PricePerExtraGb) ? null : Parse(PricePerExtraGb, "PricePerExtraGb")), ThrottleMbit);

        private static decimal Parse(string? text, string field)
            => decimal.TryParse((text ?? "").Trim(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var d)
                ? d
                : throw new PanelRefusedException($"'{text}' is not a price; write it like 4.50.", field);
    }
}
