package provider

import (
	provschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The maintenance_window block in the two schema packages: the resources' and the
// provider's (whose block is the default of every resource without one).

// maintenanceWindowBlock is the resources' maintenance_window block.
func maintenanceWindowBlock() schema.Block {
	attrs := map[string]schema.Attribute{}
	for name, s := range windowSpecs() {
		switch {
		case s.intervals:
			nested := map[string]schema.Attribute{}
			for n, v := range s.intervalOf {
				nested[n] = schema.StringAttribute{Required: true, Validators: v,
					MarkdownDescription: "RFC 3339 time with its offset."}
			}
			attrs[name] = schema.ListNestedAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.lists,
				NestedObject: schema.NestedAttributeObject{Attributes: nested, Validators: []validator.Object{intervalOrderValidator{}}}}
		case s.list:
			attrs[name] = schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: s.desc, Validators: s.lists}
		default:
			attrs[name] = schema.StringAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.strings}
		}
	}
	return schema.SingleNestedBlock{MarkdownDescription: windowBlockDescription + " Overrides the provider's `maintenance_window`.",
		Attributes: attrs, Validators: []validator.Object{windowShapeValidator{}}}
}

// providerWindowBlock is the provider's maintenance_window block.
func providerWindowBlock() provschema.Block {
	attrs := map[string]provschema.Attribute{}
	for name, s := range windowSpecs() {
		switch {
		case s.intervals:
			nested := map[string]provschema.Attribute{}
			for n, v := range s.intervalOf {
				nested[n] = provschema.StringAttribute{Required: true, Validators: v,
					MarkdownDescription: "RFC 3339 time with its offset."}
			}
			attrs[name] = provschema.ListNestedAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.lists,
				NestedObject: provschema.NestedAttributeObject{Attributes: nested, Validators: []validator.Object{intervalOrderValidator{}}}}
		case s.list:
			attrs[name] = provschema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: s.desc, Validators: s.lists}
		default:
			attrs[name] = provschema.StringAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.strings}
		}
	}
	return provschema.SingleNestedBlock{MarkdownDescription: "The default maintenance window of every servicing resource without " +
		"a `maintenance_window` block of its own. " + windowBlockDescription, Attributes: attrs, Validators: []validator.Object{windowShapeValidator{}}}
}

// scheduledWindowAttribute is the resources' computed scheduled_window.
func scheduledWindowAttribute() schema.Attribute {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	return schema.SingleNestedAttribute{Computed: true,
		MarkdownDescription: "The maintenance window the plan's downtime steps are to run in: at plan time the occurrence open " +
			"then or the next one (the plan warns when it is not open yet). Null without a window (`maintenance_window` here or " +
			"in the provider) or without downtime steps; without planned steps it keeps the last apply's value.",
		Attributes: map[string]schema.Attribute{
			"start":       str("When the window opens, RFC 3339."),
			"end":         str("When it closes, RFC 3339."),
			"description": str("The window for a reviewer, e.g. `Sat 2026-12-05 22:00–02:00 Europe/Rome`."),
		}}
}
