# service: stops or starts one Windows service and waits for it (wire.OpService): the
# third-party services that hook into Exchange (backup agents, file-level antivirus, SNMP,
# monitoring) are stopped before an install and started after it.
#
# Parameters: $Param_Name (the service's name, not its display name), $Param_Action ("stop"
# or "start").
# Result: wire.ServiceResult, keys name, before, after, start_mode (states spelt as
# exchange.ServiceFacts spells them: Running, Stopped, StartPending, ...).
# Faults: not_found (no service of that name), invalid (another action), failed (Windows
# refused the control, or the service stopped again while starting), timeout (still not in
# the wanted state after the wait).
#
# Leftovers: a running service this operation stops is recorded under
# HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Leftovers, StoppedServices, until "start" runs for
# it (the probe reports the list: exchange.Leftovers.StoppedServices).
#
# Idempotent: a service already in the wanted state is left alone (before = after). A
# service in a pending state is waited for first. Paused counts as started for "start"
# (it is resumed). The wait is bounded: at most $waitSeconds, well inside the provider's
# per-operation budget.
#
# The name is data: services are read with Get-WmiObject and matched with -eq in
# PowerShell (ordinal, case-insensitive as Windows compares service names); no WQL query
# text is built from it.

$ExOperation = 'service'

$name = [string]$Param_Name
$action = [string]$Param_Action
$waitSeconds = 120

if ($action -ne 'stop' -and $action -ne 'start') {
    Stop-ExOperation 'invalid' ('the service action must be "stop" or "start", got "' + $action + '"')
}

function Find-ExService {
    param([string]$Name)
    foreach ($s in @(Get-WmiObject -Class Win32_Service -ErrorAction Stop)) {
        if ([string]::Equals([string]$s.Name, $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return $s }
    }
    return $null
}

function Get-ExState {
    param($Service)
    return ([string]$Service.State).Replace(' ', '')
}

$service = $null
if ($name.Trim() -ne '') { $service = Find-ExService $name }
if ($null -eq $service) {
    Stop-ExOperation 'not_found' ('no service named "' + $name + '" on ' + [string]$env:COMPUTERNAME)
}

$before = Get-ExState $service
$target = 'Running'
if ($action -eq 'stop') { $target = 'Stopped' }

if ($action -eq 'start' -and [string]$service.StartMode -eq 'Disabled' -and $before -ne 'Running') {
    Stop-ExOperation 'failed' ('service ' + [string]$service.Name + ' is disabled; set its start mode before starting it')
}

# Leftovers (prelude.ps1): a service this operation stops is recorded before it is asked to
# stop, and forgotten once started again, so that an interrupted apply's next plan starts it.
# A service that was stopped already is not recorded: that is not this provider's doing.
if ($action -eq 'stop' -and $before -ne 'Stopped') {
    Set-ExStoppedService ([string]$service.Name)
}

$deadline = [datetime]::UtcNow.AddSeconds($waitSeconds)
$issuedAt = $null
while ($true) {
    # Re-read the object by its WMI path (an object path WMI itself wrote, not query text).
    $service = [wmi]([string]$service.__PATH)
    $state = Get-ExState $service
    if ($state -eq $target) { break }
    $pending = ($state -like '*Pending')
    if (-not $pending -and $null -eq $issuedAt) {
        # Ask once. ReturnValue 6 (not active) on stop and 10 (already running) on start mean
        # the service got there by itself in between.
        if ($action -eq 'stop') {
            $rv = [int]($service.StopService()).ReturnValue
            $okCodes = @(0, 6)
        } elseif ($state -eq 'Paused') {
            $rv = [int]($service.ResumeService()).ReturnValue
            $okCodes = @(0, 10)
        } else {
            $rv = [int]($service.StartService()).ReturnValue
            $okCodes = @(0, 10)
        }
        if ($okCodes -notcontains $rv) {
            Stop-ExOperation 'failed' ('Windows refused to ' + $action + ' service ' + [string]$service.Name + ': ' + (Get-ExServiceReturnText $rv))
        }
        $issuedAt = [datetime]::UtcNow
    } elseif (-not $pending -and [datetime]::UtcNow -gt $issuedAt.AddSeconds(10)) {
        # Asked, yet neither pending nor there after a grace period: e.g. a service that
        # stopped again while starting.
        Stop-ExOperation 'failed' ('service ' + [string]$service.Name + ' is ' + $state + ' after the ' + $action + ' request')
    }
    if ([datetime]::UtcNow -gt $deadline) {
        Stop-ExOperation 'timeout' ('service ' + [string]$service.Name + ' is still ' + $state + ' after ' + $waitSeconds + ' seconds')
    }
    Start-Sleep -Milliseconds 500
}

if ($action -eq 'start') {
    foreach ($n in (Get-ExStoppedServices)) {
        if ([string]::Equals($n, [string]$service.Name, [System.StringComparison]::OrdinalIgnoreCase)) {
            Set-ExStoppedService ([string]$service.Name) -Started
            break
        }
    }
}

Write-Result $ExOperation @{
    'name'       = [string]$service.Name
    'before'     = $before
    'after'      = (Get-ExState $service)
    'start_mode' = [string]$service.StartMode
}
