# expect: .Where() is PowerShell 4.0
$l = @(1, 2)
$m = $l.Where({ $_ -gt 1 })
Write-Output $m
