# expect: operator -in is PowerShell 3.0
$x = 1
if ($x -in @(1, 2)) { Write-Output $x }
