# revocation_check: turns the "check for publisher's certificate revocation" setting on or
# off for the connecting account (wire.OpRevocationCheck) ["How to install the latest Service Pack or Update Rollup for Exchange 2007"]: a server without internet access waits for Microsoft's certificate revocation list
# on every signed assembly setup loads, so the check is turned off for the install and on
# again after it.
#
# Parameters: $Param_Enabled (bool): true = check on.
# Result: wire.SettingResult, keys before, after (true = check on).
#
# The setting: HKCU\Software\Microsoft\Windows\CurrentVersion\WinTrust\Trust Providers\
# Software Publishing, DWORD State. 0x23c00 = check on (also what an absent value means),
# 0x23e00 = check off: bit 0x200 set = off. Only that bit is changed; the other bits of State
# (other WinTrust options) are kept.
#
# HKCU is the hive of the account WinRM runs this script as. The detached installer
# (job_start) runs as the same account, but whether its process sees the same hive (the
# profile stays loaded after the WinRM shell closes) is unverified.
#
# Idempotent: the value is written only when the bit must change; "on" with no value stays
# without a value.

$ExOperation = 'revocation_check'

$enabled = [bool]$Param_Enabled
$path = 'Software\Microsoft\Windows\CurrentVersion\WinTrust\Trust Providers\Software Publishing'
$defaultState = 0x23c00
$offBit = 0x200

$HKCU = [Microsoft.Win32.Registry]::CurrentUser

function Read-ExState {
    $key = $HKCU.OpenSubKey($path)
    if ($null -eq $key) { return $null }
    try {
        $v = $key.GetValue('State', $null)
        if ($null -eq $v) { return $null }
        return [int]$v
    } finally {
        $key.Close()
    }
}

$state = Read-ExState
$effective = $state
if ($null -eq $effective) { $effective = $defaultState }
$before = (($effective -band $offBit) -eq 0)

# Leftovers (prelude.ps1): turning the check off records RevocationCheckOff before the
# change, turning it on clears it after, so an interrupted apply's next plan turns it back
# on. A check that was off already is not recorded: that is the account's own setting.
if (-not $enabled -and $before) {
    Set-ExLeftoverFlag 'RevocationCheckOff' $true
}

if ($before -ne $enabled) {
    if ($enabled) {
        $new = $effective -band (-bnot $offBit)
    } else {
        $new = $effective -bor $offBit
    }
    $key = $HKCU.CreateSubKey($path)
    try {
        $key.SetValue('State', [int]$new, [Microsoft.Win32.RegistryValueKind]::DWord)
    } finally {
        $key.Close()
    }
}

$after = Read-ExState
if ($null -eq $after) { $after = $defaultState }
if ($enabled -and (Get-ExLeftoverFlag 'RevocationCheckOff')) {
    Set-ExLeftoverFlag 'RevocationCheckOff' $false
}

Write-Result $ExOperation @{
    'before' = $before
    'after'  = (($after -band $offBit) -eq 0)
}
