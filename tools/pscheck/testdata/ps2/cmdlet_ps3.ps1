# expect: 'ConvertTo-Json' is not a PowerShell 2.0 cmdlet
$j = ConvertTo-Json @{ a = 1 }
Write-Output $j
