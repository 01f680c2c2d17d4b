# firewall: the Windows Firewall service around a service pack on a CCR passive node
# (wire.OpFirewall) ["Service Packs fuer Exchange 2007": "Firewall starten (damit das Setup
# die Ausnahmen eintragen kann)" before setup, "Firewall wieder stoppen" after].
#
# Parameters: $Param_Action: 'start' or 'restore'.
# Result: wire.FirewallResult, keys service, before, after, recorded, recorded_state,
# recorded_start_mode.
# Faults: invalid (another action), not_found (no Windows Firewall service), failed (Windows
# refused to start, stop or reconfigure it, or it did not settle in time).
#
# The service: MpsSvc ("Windows Firewall", Windows Server 2008 and later), else SharedAccess
# ("Windows Firewall/Internet Connection Sharing", Windows Server 2003 SP1 and later); the
# names are Windows' own service names.
#
# start: a running service is left alone and nothing is recorded. Else the state and start
# mode it has are recorded FIRST (HKLM\<provider key>\Leftovers: FirewallStarted = 1,
# FirewallState, FirewallStartMode; an existing record is kept, so a second start after an
# interrupted apply keeps the first state), a Disabled service gets start mode Manual, and it
# is started and waited for. The probe reports the record as leftovers.firewall_started.
# restore: with a record, the service is stopped again if it was stopped, its start mode set
# back when it was Disabled, and the record removed; without one nothing changes.
# Idempotent both ways.

$ExOperation = 'firewall'

$action = [string]$Param_Action
if ($action -ne 'start' -and $action -ne 'restore') {
    Stop-ExOperation 'invalid' ('the firewall action must be "start" or "restore", got "' + $action + '"')
}

$svc = $null
foreach ($candidate in @('MpsSvc', 'SharedAccess')) {
    if ($null -ne $svc) { break }
    foreach ($s in @(Get-WmiObject -Class Win32_Service -Filter ("Name = '" + $candidate + "'") -ErrorAction Stop)) { $svc = $s }
}
if ($null -eq $svc) {
    Stop-ExOperation 'not_found' ('no Windows Firewall service (MpsSvc or SharedAccess) on ' + [string]$env:COMPUTERNAME)
}
$name = [string]$svc.Name
$path = [string]$svc.__PATH

function Get-ExFirewallState {
    return ([string]([wmi]$path).State).Replace(' ', '')
}

function Wait-ExFirewall {
    param([string]$Target)
    $deadline = [datetime]::UtcNow.AddSeconds(60)
    while ((Get-ExFirewallState) -ne $Target) {
        if ([datetime]::UtcNow -gt $deadline) {
            Stop-ExOperation 'failed' ($name + ' is ' + (Get-ExFirewallState) + ', not ' + $Target + ', after 60 seconds')
        }
        Start-Sleep -Seconds 1
    }
}

function Read-ExFirewallRecord {
    $key = $null
    try {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Leftovers')
        if ($null -eq $key -or [int]$key.GetValue('FirewallStarted', 0) -eq 0) { return $null }
        return @{ 'State' = [string]$key.GetValue('FirewallState', 'Stopped'); 'Mode' = [string]$key.GetValue('FirewallStartMode', 'Manual') }
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

$before = Get-ExFirewallState
$record = Read-ExFirewallRecord
$recorded = $false

if ($action -eq 'start') {
    if ($before -ne 'Running') {
        if ($null -eq $record) {
            $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($ExProviderKey + '\Leftovers')
            try {
                $key.SetValue('FirewallState', $before, [Microsoft.Win32.RegistryValueKind]::String)
                $key.SetValue('FirewallStartMode', [string]$svc.StartMode, [Microsoft.Win32.RegistryValueKind]::String)
            } finally {
                $key.Close()
            }
            Set-ExLeftoverFlag 'FirewallStarted' $true
            $record = Read-ExFirewallRecord
        }
        $recorded = $true
        if ([string]([wmi]$path).StartMode -eq 'Disabled') {
            $rv = [int](([wmi]$path).ChangeStartMode('Manual')).ReturnValue
            if ($rv -ne 0) { Stop-ExOperation 'failed' ('could not set the start mode of ' + $name + ' to Manual: ' + (Get-ExServiceReturnText $rv)) }
        }
        $rv = [int](([wmi]$path).StartService()).ReturnValue
        if ($rv -ne 0 -and $rv -ne 10) { Stop-ExOperation 'failed' ('Windows refused to start ' + $name + ': ' + (Get-ExServiceReturnText $rv)) }
        Wait-ExFirewall 'Running'
    }
} elseif ($null -ne $record) {
    $recorded = $true
    if ($record['State'] -eq 'Stopped' -and (Get-ExFirewallState) -ne 'Stopped') {
        $rv = [int](([wmi]$path).StopService()).ReturnValue
        if ($rv -ne 0 -and $rv -ne 5) { Stop-ExOperation 'failed' ('Windows refused to stop ' + $name + ': ' + (Get-ExServiceReturnText $rv)) }
        Wait-ExFirewall 'Stopped'
    }
    if ($record['Mode'] -eq 'Disabled' -and [string]([wmi]$path).StartMode -ne 'Disabled') {
        $rv = [int](([wmi]$path).ChangeStartMode('Disabled')).ReturnValue
        if ($rv -ne 0) { Stop-ExOperation 'failed' ('could not set the start mode of ' + $name + ' back to Disabled: ' + (Get-ExServiceReturnText $rv)) }
    }
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($ExProviderKey + '\Leftovers')
    try {
        $key.DeleteValue('FirewallState', $false)
        $key.DeleteValue('FirewallStartMode', $false)
    } finally {
        $key.Close()
    }
    Set-ExLeftoverFlag 'FirewallStarted' $false
}

$recordedState = ''
$recordedMode = ''
if ($null -ne $record) {
    $recordedState = $record['State']
    $recordedMode = $record['Mode']
}
Write-Result $ExOperation @{
    'service'             = $name
    'before'              = $before
    'after'               = (Get-ExFirewallState)
    'recorded'            = $recorded
    'recorded_state'      = $recordedState
    'recorded_start_mode' = $recordedMode
}
