# exchange_services: after an install, puts every Exchange service back in service
# (wire.OpExchangeServices) ["How to install the latest Service Pack or Update Rollup for Exchange 2007": "a silent or Microsoft Update
# install can leave Exchange services disabled"; afterwards check that every Exchange
# service has started].
#
# No parameters. Result: wire.ExchangeServicesResult, keys enabled, started, failed,
# left_to_cluster, services (each exchange.ServiceFacts: name, state, start_mode).
#
# The services are the probe's (Test-ExExchangeService in prelude.ps1): MSExchange*,
# "Microsoft Exchange ..." display names, RESvc, POP3Svc, IMAP4Svc, msftesql-Exchange and
# the IIS services W3SVC, IISADMIN, SMTPSVC.
#
# 1. Every such service that is Disabled gets a start mode again (Win32_Service
#    ChangeStartMode). Which one: the servicing lock records the start mode and state of every
#    Exchange service when it is taken, before anything is installed (lock.ps1, value
#    ServiceStartModes). A service that was Disabled then stays Disabled (an administrator's
#    choice: POP3Svc and IMAP4Svc are disabled by default on Exchange 2003); one that was
#    Manual goes back to Manual; otherwise, and when there is no record, Automatic.
# 2. Every such service that should run and does not is started: start mode Automatic, or
#    running when the lock recorded it. A Manual service that was not running is left
#    stopped (Exchange 2007 ships POP3, IMAP4 and monitoring services as Manual: starting
#    them would open protocols nobody asked for). Paused services are resumed.
# 3. The starts are requested together (the service control manager starts dependencies
#    itself) and waited for, at most $waitSeconds in all. A service that Windows refuses to
#    start, that stops again, or that is still pending at the end is listed in failed with
#    the reason; that is not a fault: the caller decides.
# On a cluster node (the cluster service ClusSvc is installed and not Disabled), the Exchange
# services that start Manual are the resources of the virtual server on Exchange 2000/2003/5.5
# (cluster setup sets them Manual on every node): the cluster starts them where the group
# runs, and starting one directly would run it outside the cluster's control [KB 328839]. Step 2 does not start them, even when the lock recorded them
# running (the cluster ran them then); they are listed in left_to_cluster. Step 1 still gives
# a Disabled one its start mode back (Manual, from the lock's record). That such services are
# exactly the Manual ones is our reading of how Exchange cluster setup configures the nodes.
# Not while an installer runs (a job of this provider, or ExSetup): then nothing changes and
# the services that are down are listed in failed ("setup is running").
# Idempotent: a second run finds nothing disabled and everything running, and changes nothing.

$ExOperation = 'exchange_services'

$waitSeconds = 180

function Get-ExState {
    param($Service)
    return ([string]$Service.State).Replace(' ', '')
}

# The lock's record: lower-case name -> @{ Mode; State }.
$recorded = @{}
$lockKey = $null
try {
    $lockKey = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Lock')
    if ($null -ne $lockKey) {
        foreach ($entry in @($lockKey.GetValue('ServiceStartModes', @()))) {
            $parts = ([string]$entry).Split('|')
            if ($parts.Length -ge 3 -and $parts[0] -ne '') {
                $recorded[$parts[0].ToLowerInvariant()] = @{ 'Mode' = $parts[1]; 'State' = $parts[2] }
            }
        }
    }
} catch {
    $recorded = @{}
} finally {
    if ($null -ne $lockKey) { $lockKey.Close() }
}

$exchange = New-Object System.Collections.ArrayList
foreach ($s in @(Get-WmiObject -Class Win32_Service -ErrorAction Stop | Sort-Object -Property Name)) {
    if (Test-ExExchangeService $s) { [void]$exchange.Add($s) }
}

$enabled = New-Object System.Collections.ArrayList
$started = New-Object System.Collections.ArrayList
$failed = New-Object System.Collections.ArrayList
$leftToCluster = New-Object System.Collections.ArrayList

$clusterNode = $false
foreach ($c in @(Get-WmiObject -Class Win32_Service -Filter "Name = 'ClusSvc'" -ErrorAction SilentlyContinue)) {
    if ([string]$c.StartMode -ne 'Disabled') { $clusterNode = $true }
}

# 0. Not while an installer runs: setup stops the services and starts them itself, and a
#    service started under it can make it fail. Then nothing is changed, and every service
#    that is neither running nor disabled is listed in failed with the reason.
$installing = ''
foreach ($job in (Get-ExJobs)) {
    if ($job['state'] -eq 'running') { $installing = 'job ' + $job['id'] }
}
if ($installing -eq '') {
    $setupProcesses = @(Get-Process -Name 'ExSetup', 'ExSetupUI' -ErrorAction SilentlyContinue)
    if ($setupProcesses.Count -gt 0) { $installing = $setupProcesses[0].Name + ', process id ' + $setupProcesses[0].Id }
}
if ($installing -ne '') {
    $services = New-Object System.Collections.ArrayList
    foreach ($s in $exchange) {
        if ((Get-ExState $s) -ne 'Running' -and [string]$s.StartMode -ne 'Disabled') {
            [void]$failed.Add([string]$s.Name + ': setup is running (' + $installing + ')')
        }
        [void]$services.Add((New-ExServiceFacts $s))
    }
    Write-Result $ExOperation @{
        'enabled'  = $enabled
        'started'  = $started
        'failed'   = $failed
        'left_to_cluster' = $leftToCluster
        'services' = $services
    }
    return
}

# 1. Disabled -> a start mode.
foreach ($s in $exchange) {
    if ([string]$s.StartMode -ne 'Disabled') { continue }
    $name = [string]$s.Name
    $mode = 'Automatic'
    $record = $recorded[$name.ToLowerInvariant()]
    if ($null -ne $record) {
        if ($record['Mode'] -eq 'Disabled') { continue }
        if ($record['Mode'] -eq 'Manual') { $mode = 'Manual' }
    }
    $rv = [int]($s.ChangeStartMode($mode)).ReturnValue
    if ($rv -eq 0) {
        [void]$enabled.Add($name)
    } else {
        [void]$failed.Add($name + ': could not set its start mode to ' + $mode + ': ' + (Get-ExServiceReturnText $rv))
    }
}

# 2. Start what should run.
$waiting = New-Object System.Collections.ArrayList   # @{ Path; Name; Asked }
foreach ($s in $exchange) {
    $s = [wmi]([string]$s.__PATH)
    $name = [string]$s.Name
    $state = Get-ExState $s
    if ($state -eq 'Running') { continue }
    if ($clusterNode -and [string]$s.StartMode -eq 'Manual') {
        [void]$leftToCluster.Add($name)
        continue
    }
    $record = $recorded[$name.ToLowerInvariant()]
    $shouldRun = ([string]$s.StartMode -eq 'Auto') -or ($null -ne $record -and $record['State'] -eq 'Running' -and [string]$s.StartMode -ne 'Disabled')
    if (-not $shouldRun) { continue }
    $asked = $null
    if ($state -notlike '*Pending') {
        if ($state -eq 'Paused') {
            $rv = [int]($s.ResumeService()).ReturnValue
        } else {
            $rv = [int]($s.StartService()).ReturnValue
        }
        if ($rv -ne 0 -and $rv -ne 10) {
            [void]$failed.Add($name + ': Windows refused to start it: ' + (Get-ExServiceReturnText $rv))
            continue
        }
        $asked = [datetime]::UtcNow
    }
    [void]$waiting.Add(@{ 'Path' = [string]$s.__PATH; 'Name' = $name; 'Asked' = $asked })
}

# 3. Wait for them.
$deadline = [datetime]::UtcNow.AddSeconds($waitSeconds)
while ($waiting.Count -gt 0) {
    $still = New-Object System.Collections.ArrayList
    foreach ($w in $waiting) {
        $s = [wmi]$w['Path']
        $state = Get-ExState $s
        if ($state -eq 'Running') {
            [void]$started.Add($w['Name'])
        } elseif ($state -like '*Pending') {
            [void]$still.Add($w)
        } elseif ($null -eq $w['Asked']) {
            # It was pending when seen first and has settled in another state: ask now.
            $rv = [int]($s.StartService()).ReturnValue
            if ($rv -ne 0 -and $rv -ne 10) {
                [void]$failed.Add($w['Name'] + ': Windows refused to start it: ' + (Get-ExServiceReturnText $rv))
            } else {
                $w['Asked'] = [datetime]::UtcNow
                [void]$still.Add($w)
            }
        } elseif ([datetime]::UtcNow -gt ([datetime]$w['Asked']).AddSeconds(15)) {
            [void]$failed.Add($w['Name'] + ': ' + $state + ' after the start request')
        } else {
            [void]$still.Add($w)
        }
    }
    $waiting = $still
    if ($waiting.Count -eq 0) { break }
    if ([datetime]::UtcNow -gt $deadline) {
        foreach ($w in $waiting) {
            [void]$failed.Add($w['Name'] + ': still ' + (Get-ExState ([wmi]$w['Path'])) + ' after ' + $waitSeconds + ' seconds')
        }
        break
    }
    Start-Sleep -Seconds 1
}

$services = New-Object System.Collections.ArrayList
foreach ($s in $exchange) {
    [void]$services.Add((New-ExServiceFacts ([wmi]([string]$s.__PATH))))
}

$started.Sort()
$failed.Sort()
Write-Result $ExOperation @{
    'enabled'  = $enabled
    'started'  = $started
    'failed'   = $failed
    'left_to_cluster' = $leftToCluster
    'services' = $services
}
