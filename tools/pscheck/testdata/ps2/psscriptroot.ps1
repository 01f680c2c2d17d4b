# expect: $PSScriptRoot is set only in modules on PowerShell 2.0
$here = $PSScriptRoot
Write-Output $here
