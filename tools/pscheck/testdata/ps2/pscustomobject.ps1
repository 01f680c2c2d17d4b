# expect: [pscustomobject] is PowerShell 3.0
$o = [pscustomobject]@{ a = 1 }
Write-Output $o
