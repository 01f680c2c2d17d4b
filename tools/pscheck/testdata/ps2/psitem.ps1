# expect: $PSItem is PowerShell 3.0
@(1, 2) | ForEach-Object { $PSItem }
