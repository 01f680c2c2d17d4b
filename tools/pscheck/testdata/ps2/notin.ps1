# expect: operator -notin is PowerShell 3.0
$x = 1
if ($x -notin @(1, 2)) { Write-Output $x }
