# expect: [ordered] is PowerShell 3.0
$h = [ordered]@{ a = 1 }
Write-Output $h
