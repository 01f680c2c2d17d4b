# remote_streaming_backup: sets "Enable Remote Streaming Backup" (wire.OpRemoteStreamingBackup)
# ["Service Packs fuer Exchange 2007"]: CCR reseeding needs it on a passive node, and
# Exchange 2007 SP1 resets it, so it is re-applied after the service pack.
#
# Parameters: $Param_Enabled (bool).
# Result: wire.SettingResult, keys before, after (an absent value counts as off).
# Faults: not_found (no MSExchangeIS service key: no Information Store on this server).
#
# The setting: HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem, DWORD
# "Enable Remote Streaming Backup", 1 = on, 0 = off (the probe reads the same value).
# ParametersSystem is created under an existing MSExchangeIS key when missing; the
# MSExchangeIS service key itself is never created (that would register a half service).
# Idempotent: written only when it differs; "off" with no value stays without one. The
# Information Store reads it when it starts (not verified whether a running store picks up
# a change at once).

$ExOperation = 'remote_streaming_backup'

$enabled = [bool]$Param_Enabled
$servicePath = 'SYSTEM\CurrentControlSet\Services\MSExchangeIS'
$path = $servicePath + '\ParametersSystem'
$valueName = 'Enable Remote Streaming Backup'

$HKLM = [Microsoft.Win32.Registry]::LocalMachine

function Read-ExSetting {
    $key = $HKLM.OpenSubKey($path)
    if ($null -eq $key) { return $false }
    try {
        $v = $key.GetValue($valueName, $null)
        if ($null -eq $v) { return $false }
        return ([int]$v -ne 0)
    } finally {
        $key.Close()
    }
}

$serviceKey = $HKLM.OpenSubKey($servicePath)
if ($null -eq $serviceKey) {
    Stop-ExOperation 'not_found' ('no Information Store on ' + [string]$env:COMPUTERNAME + ' (no HKLM\' + $servicePath + ')')
}
$serviceKey.Close()

$before = Read-ExSetting
if ($before -ne $enabled) {
    $key = $HKLM.CreateSubKey($path)
    try {
        $value = 0
        if ($enabled) { $value = 1 }
        $key.SetValue($valueName, [int]$value, [Microsoft.Win32.RegistryValueKind]::DWord)
    } finally {
        $key.Close()
    }
}

Write-Result $ExOperation @{
    'before' = $before
    'after'  = (Read-ExSetting)
}
