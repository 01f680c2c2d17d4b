# expect: variable $notSet is read before it is assigned
Write-Output $notSet
