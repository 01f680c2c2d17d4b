package provider

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// serverValidators check a server (or cluster) name at plan: the name the probe checks the
// server answers as, and the host to connect to when no address is given. Microsoft's naming
// conventions for computers (KB909264, "Naming conventions in Active Directory for computers,
// domains, sites, and OUs") allow in a DNS host name letters, digits, hyphens and periods, and
// in a NetBIOS name no \ / : * ? " < > |; a name outside the first set (quotes, $, `, ;, |, &,
// spaces, control characters) cannot name a server we could reach, so it stops the plan
// naming the attribute. Letters and digits of any script are kept (Windows takes Unicode
// computer names) and reach the scripts as literals, byte for byte. The underscore, which
// NetBIOS names may hold, is kept too.
func serverValidators() []validator.String {
	return []validator.String{serverNameValidator{}}
}

// maxServerName is the longest DNS name (RFC 1035: 255 octets).
const maxServerName = 255

type serverNameValidator struct{}

func (serverNameValidator) Description(context.Context) string {
	return "must be a server name: letters, digits, hyphens, periods and underscores, a letter or digit first"
}

func (v serverNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (serverNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if problem := serverNameProblem(req.ConfigValue.ValueString()); problem != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid server name",
			fmt.Sprintf("%s %s: set it to the server's name as Exchange knows it, e.g. MBX01.", req.Path, problem))
	}
}

// serverNameProblem says what is wrong with a server name, or "" when nothing is.
func serverNameProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > maxServerName:
		return fmt.Sprintf("is %d bytes long, longer than any server name (%d)", len(s), maxServerName)
	}
	for i, r := range []rune(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && strings.ContainsRune("-._", r)) {
			continue
		}
		return fmt.Sprintf("%q holds %s at character %d, which no server name may hold", s, runeName(r), i+1)
	}
	return ""
}

func runeName(r rune) string {
	if r == 0 {
		return "a NUL character"
	}
	if r < utf8.RuneSelf && unicode.IsPrint(r) {
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("U+%04X", r)
}

// serviceNameValidators check a Windows service name (stop_services). CreateService
// (Microsoft, Win32 API reference, lpServiceName): "The maximum string length is 256
// characters ... Forward-slash (/) and backslash (\) are not valid service name characters."
// Any other character is data: the name reaches the service script as a literal.
func serviceNameValidators() []validator.String {
	return []validator.String{stringvalidator.LengthBetween(1, 256),
		stringvalidator.RegexMatches(regexp.MustCompile(`^[^/\\\x00-\x1F]*$`),
			"must be a Windows service name: no / or \\ and no control characters (CreateService)")}
}

// noNULValidator refuses a NUL character in a string. Every string the provider sends to a
// server travels inside a PowerShell script (wire renders it as a literal) and a NUL in a
// command line or a Windows API string ends it early: the server would act on a shorter
// value than the one configured.
type noNULValidator struct{}

func (noNULValidator) Description(context.Context) string { return "must not hold a NUL character" }

func (v noNULValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (noNULValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	if i := strings.IndexByte(s, 0); i >= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "NUL character in a value",
			fmt.Sprintf("%s holds a NUL character at character %d: remove it.", req.Path, utf8.RuneCountInString(s[:i])+1))
	}
}

// addNULChecks adds noNULValidator to every string the user can set in a schema (resource,
// data source or provider): string attributes and the elements of lists, sets and maps of
// strings, in nested attributes and blocks too. It works on the schema's structure by
// reflection, so an attribute added later is checked without anyone remembering to.
func addNULChecks(attributes, blocks any) {
	walkSchema(reflect.ValueOf(attributes), reflect.ValueOf(blocks))
}

var (
	stringValidatorsType = reflect.TypeOf([]validator.String(nil))
	listValidatorsType   = reflect.TypeOf([]validator.List(nil))
	setValidatorsType    = reflect.TypeOf([]validator.Set(nil))
	mapValidatorsType    = reflect.TypeOf([]validator.Map(nil))
)

func walkSchema(maps ...reflect.Value) {
	for _, m := range maps {
		if m.Kind() != reflect.Map {
			continue
		}
		for _, key := range m.MapKeys() {
			v := m.MapIndex(key)
			if v.Kind() == reflect.Interface {
				v = v.Elem()
			}
			c := reflect.New(v.Type()).Elem()
			c.Set(v)
			checkSchemaNode(c)
			m.SetMapIndex(key, c)
		}
	}
}

// checkSchemaNode adds the check to one attribute or block (an addressable struct value).
func checkSchemaNode(c reflect.Value) {
	if c.Kind() != reflect.Struct {
		return
	}
	if f := c.FieldByName("Computed"); f.IsValid() && f.Bool() && !c.FieldByName("Optional").Bool() && !c.FieldByName("Required").Bool() {
		return // not set by the user
	}
	if f := c.FieldByName("Validators"); f.IsValid() {
		elem := c.FieldByName("ElementType")
		isStrings := elem.IsValid() && !elem.IsNil() && elem.Interface() == types.StringType
		switch {
		case f.Type() == stringValidatorsType:
			f.Set(reflect.Append(f, reflect.ValueOf(validator.String(noNULValidator{}))))
		case f.Type() == listValidatorsType && isStrings:
			f.Set(reflect.Append(f, reflect.ValueOf(listvalidator.ValueStringsAre(noNULValidator{}))))
		case f.Type() == setValidatorsType && isStrings:
			f.Set(reflect.Append(f, reflect.ValueOf(setvalidator.ValueStringsAre(noNULValidator{}))))
		case f.Type() == mapValidatorsType && isStrings:
			f.Set(reflect.Append(f, reflect.ValueOf(mapvalidator.ValueStringsAre(noNULValidator{}))))
		}
	}
	walkSchema(c.FieldByName("Attributes"), c.FieldByName("Blocks"))
	if obj := c.FieldByName("NestedObject"); obj.IsValid() && obj.Kind() == reflect.Struct {
		walkSchema(obj.FieldByName("Attributes"), obj.FieldByName("Blocks"))
	}
}
