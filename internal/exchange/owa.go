package exchange

import "fmt"

// The OWA logon page around an install ("How to install the latest Service Pack or Update Rollup for Exchange 2007"): an update does not replace a
// customised Logon.aspx, and OWA then shows a blank page; so the customised page is moved
// aside before the install, the update's NEW page is kept (copying the old one back over it
// can bring the blank page back), a page the user re-customised for the new build is put in
// its place when given (owa_logon_file), and OWA is asked for its logon page afterwards.

// savedLogonDir is where customizations.ps1 keeps the pages (%SystemRoot% on the server).
const savedLogonDir = `%SystemRoot%\Temp\ExchangeProvider\customizations\owa_logon`

// owa reports whether the server serves the Exchange 2007 OWA logon page.
func (p *planning) owa() bool { return p.f.Product == "2007" && p.f.HasRole("ClientAccess") }

// saveCustomizations plans step 3 and reports whether it did.
func (p *planning) saveCustomizations(add func(Step)) bool {
	file := p.opts.OWALogonFile
	if file != "" && !p.owa() {
		p.refuse(FieldOWALogonFile, fmt.Sprintf("owa_logon_file is set, but the server is not an Exchange 2007 Client Access server (Exchange %s, roles %v): it has no OWA Logon.aspx to replace", p.f.Product, p.f.Roles),
			"remove owa_logon_file from this resource")
		return false
	}
	if !p.f.OWALogonCustomized && file == "" {
		return false
	}
	if !p.opts.PreserveOWACustomizations {
		if p.f.OWALogonCustomized {
			p.warn("OWA Logon.aspx is customised and preserve_owa_customizations is false: the update does not replace a customised Logon.aspx, and OWA then shows a blank page until it is fixed")
		}
		if file != "" {
			p.refuse(FieldOWALogonFile, "owa_logon_file is set while preserve_owa_customizations is false",
				"set preserve_owa_customizations = true (the default) to have the page put in place, or remove owa_logon_file")
		}
		return false
	}
	desc := "move the customised OWA Logon.aspx aside to " + savedLogonDir + `\logon.aspx (an update does not replace a customised Logon.aspx, and OWA then shows a blank page)`
	if !p.f.OWALogonCustomized {
		desc = "move OWA Logon.aspx aside to " + savedLogonDir + `\logon.aspx, so that the update writes its own`
	}
	if file != "" {
		desc += "; first check that " + file + " can be read"
	} else {
		p.warn("the customised OWA Logon.aspx is moved aside and not put back: the update's new page stays (copying the old page over it can bring back the blank page). Re-create the customisations in the new page by hand from %s\\previous\\logon.aspx, or set owa_logon_file to a Logon.aspx customised for the new build", savedLogonDir)
	}
	add(Step{Kind: SaveCustomizations{LogonFile: file}, Description: desc})
	return true
}

// restoreCustomizations plans step 11: what the restore does, and only that.
func (p *planning) restoreCustomizations() Step {
	file := p.opts.OWALogonFile
	if file != "" {
		return Step{Kind: RestoreCustomizations{LogonFile: file},
			Description: fmt.Sprintf(`put %s in place as OWA Logon.aspx (the page the update wrote is kept as %s\setup\logon.aspx); keep the page moved aside as %s\previous\logon.aspx`, file, savedLogonDir, savedLogonDir)}
	}
	return Step{Kind: RestoreCustomizations{},
		Description: fmt.Sprintf(`keep the OWA Logon.aspx the update wrote and the customised page moved aside as %s\previous\logon.aspx (the moved page is put back only if no update wrote a new one)`, savedLogonDir)}
}

func verifyOWAStep() Step {
	return Step{Kind: VerifyOWA{},
		Description: "ask the server's own OWA for https://localhost/owa/auth/logon.aspx (no credentials; the certificate's name cannot match localhost and is not checked) and check that it answers with the logon form"}
}
