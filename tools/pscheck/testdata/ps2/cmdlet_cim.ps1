# expect: 'Get-CimInstance' is not a PowerShell 2.0 cmdlet
$os = Get-CimInstance Win32_OperatingSystem
Write-Output $os
