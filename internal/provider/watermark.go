package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// clearWatermarkModel is the clear_setup_watermark opt-in.
type clearWatermarkModel struct {
	Reason types.String `tfsdk:"reason"`
}

// clearWatermarkAttribute is the opt-in to clear an interrupted Exchange 2007 setup's
// Action/Watermark values before the service pack's setup runs (setup refuses to start
// while they exist). A reason is required: it is shown as a warning in every plan that
// clears them.
func clearWatermarkAttribute(scope string) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{Optional: true,
		MarkdownDescription: "Lets the plan clear what an interrupted Exchange 2007 setup left " + scope + ": the `Action` and " +
			"`Watermark` values under `HKLM\\SOFTWARE\\Microsoft\\Exchange\\v8.0\\<Role>`, which keep setup from starting " +
			"again (it takes them for another setup still running). Without it such a server is refused. With it the plan " +
			"checks that no setup or installer runs (`check_no_setup_running`), exports each key with `reg.exe export` to " +
			"`%SystemRoot%\\Temp\\ExchangeProvider\\setup_keys\\<Key>-<digest>.reg` on the server (`export_setup_key`; " +
			"put it back with `reg import`), removes only those two values (`remove_setup_watermark`), then runs setup. " +
			"An apply interrupted in between continues from what the server shows.",
		Attributes: map[string]schema.Attribute{
			"reason": schema.StringAttribute{Required: true,
				MarkdownDescription: "Why clearing is safe (at least 10 characters), e.g. what interrupted setup and the change " +
					"ticket. Shown as a warning in every plan that clears the values.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(10)}},
		},
	}
}

// reason is the opt-in's reason, "" when it is not set.
func (m *clearWatermarkModel) reason() string {
	if m == nil {
		return ""
	}
	return m.Reason.ValueString()
}
