# expect: ::new() is PowerShell 5.0
$sb = [System.Text.StringBuilder]::new()
Write-Output $sb
