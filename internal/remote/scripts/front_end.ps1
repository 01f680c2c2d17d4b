# front_end: takes an Exchange 2000/2003 front-end server out of service for its clients, or
# brings it back (wire.OpFrontEnd) [KB 328839: load-balanced front-end servers are upgraded
# all at once: take all of them offline, upgrade each, then bring them online, because
# mobile clients get sync key errors while some front-ends run another service pack].
#
# Parameters: $Param_Action: 'offline' or 'online'.
# Result: wire.FrontEndResult, keys service, before, after, start_mode, recorded_start_mode.
# Faults: invalid (another action), not_found (no W3SVC service), failed (Windows refused to
# stop, start or reconfigure it, or it did not settle in time).
#
# Offline means: the World Wide Web Publishing service (W3SVC), through which a front-end
# serves Outlook Web Access, Exchange ActiveSync and Outlook Mobile Access, is Disabled and
# stopped, so that neither the service pack's own restart of the services nor the reboot
# after it starts it again (our reading of "take the front-end servers offline"; the load
# balancer's configuration is not touched).
#
# offline: the start mode W3SVC has is recorded FIRST (HKLM\<provider key>\Leftovers:
# FrontEndOffline = 1, FrontEndStartMode; an existing record is kept, so a second offline
# after an interrupted apply keeps the first start mode), then W3SVC is set Disabled and
# stopped, and waited for. The probe reports the record as leftovers.front_end_offline.
# online: with a record, W3SVC gets the recorded start mode back and is started (unless it
# was Disabled before), and the record is removed; without one nothing changes.
# Idempotent both ways.

$ExOperation = 'front_end'

$action = [string]$Param_Action
if ($action -ne 'offline' -and $action -ne 'online') {
    Stop-ExOperation 'invalid' ('the front-end action must be "offline" or "online", got "' + $action + '"')
}

$svc = $null
foreach ($s in @(Get-WmiObject -Class Win32_Service -Filter "Name = 'W3SVC'" -ErrorAction Stop)) { $svc = $s }
if ($null -eq $svc) {
    Stop-ExOperation 'not_found' ('no World Wide Web Publishing service (W3SVC) on ' + [string]$env:COMPUTERNAME + ': a front-end server serves its clients through IIS')
}
$path = [string]$svc.__PATH

function Get-ExWebState {
    return ([string]([wmi]$path).State).Replace(' ', '')
}

function Wait-ExWeb {
    param([string]$Target)
    $deadline = [datetime]::UtcNow.AddSeconds(120)
    while ((Get-ExWebState) -ne $Target) {
        if ([datetime]::UtcNow -gt $deadline) {
            Stop-ExOperation 'failed' ('W3SVC is ' + (Get-ExWebState) + ', not ' + $Target + ', after 120 seconds')
        }
        Start-Sleep -Seconds 1
    }
}

function Read-ExFrontEndRecord {
    $key = $null
    try {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Leftovers')
        if ($null -eq $key -or [int]$key.GetValue('FrontEndOffline', 0) -eq 0) { return '' }
        return [string]$key.GetValue('FrontEndStartMode', 'Auto')
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

$before = Get-ExWebState
$recorded = Read-ExFrontEndRecord

if ($action -eq 'offline') {
    if ($recorded -eq '') {
        $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($ExProviderKey + '\Leftovers')
        try {
            $key.SetValue('FrontEndStartMode', [string]$svc.StartMode, [Microsoft.Win32.RegistryValueKind]::String)
        } finally {
            $key.Close()
        }
        Set-ExLeftoverFlag 'FrontEndOffline' $true
        $recorded = Read-ExFrontEndRecord
    }
    if ([string]([wmi]$path).StartMode -ne 'Disabled') {
        $rv = [int](([wmi]$path).ChangeStartMode('Disabled')).ReturnValue
        if ($rv -ne 0) { Stop-ExOperation 'failed' ('could not set the start mode of W3SVC to Disabled: ' + (Get-ExServiceReturnText $rv)) }
    }
    if ((Get-ExWebState) -ne 'Stopped') {
        $rv = [int](([wmi]$path).StopService()).ReturnValue
        if (@(0, 5, 6) -notcontains $rv) { Stop-ExOperation 'failed' ('Windows refused to stop W3SVC: ' + (Get-ExServiceReturnText $rv)) }
        Wait-ExWeb 'Stopped'
    }
} elseif ($recorded -ne '') {
    # Win32_Service reads Auto; ChangeStartMode takes Automatic.
    $mode = $recorded
    if ($mode -eq 'Auto') { $mode = 'Automatic' }
    if ([string]([wmi]$path).StartMode -ne $recorded) {
        $rv = [int](([wmi]$path).ChangeStartMode($mode)).ReturnValue
        if ($rv -ne 0) { Stop-ExOperation 'failed' ('could not set the start mode of W3SVC back to ' + $mode + ': ' + (Get-ExServiceReturnText $rv)) }
    }
    if ($recorded -ne 'Disabled' -and (Get-ExWebState) -ne 'Running') {
        $rv = [int](([wmi]$path).StartService()).ReturnValue
        if ($rv -ne 0 -and $rv -ne 10) { Stop-ExOperation 'failed' ('Windows refused to start W3SVC: ' + (Get-ExServiceReturnText $rv)) }
        Wait-ExWeb 'Running'
    }
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($ExProviderKey + '\Leftovers')
    try {
        $key.DeleteValue('FrontEndStartMode', $false)
    } finally {
        $key.Close()
    }
    Set-ExLeftoverFlag 'FrontEndOffline' $false
}

Write-Result $ExOperation @{
    'service'             = 'W3SVC'
    'before'              = $before
    'after'               = (Get-ExWebState)
    'start_mode'          = [string]([wmi]$path).StartMode
    'recorded_start_mode' = $recorded
}
