# expect: variable $nowhere is read before it is assigned (in this function
function Get-X {
    param([string]$Name)
    return $Name + $nowhere
}
Get-X -Name a
