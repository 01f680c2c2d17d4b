# expect: variable $later is read before it is assigned
Write-Output $later
$later = 1
