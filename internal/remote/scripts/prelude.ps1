# placeholder: replaced by the real prelude (JSON writer, Write-Result, Write-Fault)
