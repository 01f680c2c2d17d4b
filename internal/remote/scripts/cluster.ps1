# cluster: changes the Windows cluster this server is a node of (wire.OpCluster) for the
# cluster steps of exchange.PlanCluster (KB 328839: Exchange 2000/2003/5.5 clusters;
# "Service Packs fuer Exchange 2007": Exchange 2007 CCR/SCC).
#
# Parameters: $Param_Action (one of the wire.Cluster* actions below), $Param_Group (the
# CMS/EVS or cluster group: the group's name or its network name; required except for
# stop_service and start_service), $Param_Node (the target node of move_group; ignored, but
# still validated, otherwise).
# Result: wire.ClusterResult, the group after the action: group (the group's own name),
# owner, group_state, resources (name, type, state of each of its resources),
# cluster_service_running (ClusSvc on this node). While the cluster service is stopped on this
# node nothing can be read: group is then the parameter, owner and group_state '' and
# resources empty.
# Faults: invalid (an action, group or node name that cannot be right), not_clustered (no
# cluster service, or it is Disabled, or no cluster.exe), not_found (no such group or node),
# refused (what the cluster or Exchange refuses, with its message), timeout (the cluster did
# not settle within $waitSeconds), unavailable (the cluster WMI provider does not answer, or
# the Exchange 2007 management snap-in is missing for stop_cms/start_cms).
#
# How (every action checks the state first and does nothing when it is already there, then
# waits, bounded by $waitSeconds, polling the cluster WMI provider every 2 seconds):
# - States are read through WMI (Read-ExCluster, prelude.ps1): cluster.exe prints localised
#   text, WMI numbers. Changes go through %SystemRoot%\System32\cluster.exe (Windows Server
#   2003 and 2008 cluster nodes), with every argument a separate array element: PowerShell
#   quotes each one for the command line; no command text is ever built from a parameter.
#   Group and node parameters are validated by pattern ($ExClusterGroupPattern,
#   $ExClusterNodePattern) and then only SELECT among the names the cluster reports: what
#   reaches cluster.exe is the cluster's own name for the group, node or resource.
# - move_group: cluster.exe group <Group> /moveto:<Node> /wait:<s>; then waits until Node owns
#   the group and it has settled: Online if it was online before the move, else Online,
#   PartialOnline or Offline (an offline group is moved offline and stays so; an EVS whose
#   resources were taken offline but for IP/name/disk moves PartialOnline). A group Failed for
#   30 seconds on Node, or moved back elsewhere, is refused (with MSExchangeCluster event 1025
#   or c1037b44 named when this node logged one). Exchange 2007: a CMS that is not offline is
#   moved with Move-ClusteredMailboxServer -TargetMachine <Node> -MoveComment instead, as Microsoft asks
#   for a running CMS (its health checks; cluster tools can leave CCR databases dismounted),
#   unless the snap-in is missing; a stopped CMS (the /upgradeCMS sequence) moves with
#   cluster.exe.
# - stop_service / start_service: ClusSvc on THIS node, through Win32_Service StopService /
#   StartService, waiting for Stopped / Running; start also waits until this node is Up in
#   the cluster (MSCluster_Node State 0). Stopping moves the groups this node owns to other
#   nodes (as the cluster does when a node leaves); the planner moves them first.
#   Not refused here: the cluster does not refuse it either.
# - stop_cms / start_cms (Exchange 2007): Stop-ClusteredMailboxServer -Identity <CMS>
#   -StopReason 'terraform-provider-exchange servicing' -Confirm:$false, and
#   Start-ClusteredMailboxServer -Identity <CMS> -Confirm:$false, from the Exchange 2007
#   snap-in Microsoft.Exchange.Management.PowerShell.Admin (fault unavailable without it).
#   <CMS> is the group's network name. Stopped = every Exchange resource of the group
#   Offline (Test-ExExchangeResourcesOffline, prelude.ps1); started = group Online.
# - offline_evs_resources: every resource of the group whose type is not IP Address (or the
#   IPv6 address types), Physical Disk or Network Name ($ExEvsBaseResourceTypes) and that is
#   not Offline: cluster.exe resource <name> /offline /wait:<s>. Dependency-safe in any
#   order: the cluster takes a resource's dependents offline before the resource itself;
#   the System Attendant goes last all the same (the Exchange resources depend on it) and
#   each resource's state is read again before its turn, so one taken down as a dependent is
#   skipped. A resource of another type in the group (an MSDTC resource, say) goes offline
#   too: the list of what stays online is the seed's.
# - online_group: cluster.exe group <Group> /online /wait:<s>, waits for Online (Failed for
#   30 seconds: refused, with the event hints as for move_group).
# - block_failover / allow_failover: the group's common property FailoverThreshold (the
#   number of failovers the cluster attempts within FailoverPeriod hours) set to 0 with
#   cluster.exe group <Group> /prop FailoverThreshold=0: after a resource failure the cluster
#   then leaves the group failed on its node instead of failing it over. It does not stop a
#   manual move, and whether it keeps the group when its owner node itself leaves the
#   cluster is unverified. The value it had is kept first, as text, in
#   HKLM\SOFTWARE\BuildLevel\ExchangeProvider\ClusterFailover, value <group name>;
#   allow_failover puts it back (FailoverThreshold=<n>, or /prop:FailoverThreshold
#   /usedefault for 4294967295, the "number of nodes minus 1" default) and deletes the value.
#   With no value kept (set by hand, or kept on another node) and the threshold 0,
#   allow_failover puts back the Windows default (/usedefault): an Exchange group is meant to
#   fail over. The probe's failover_blocked is "FailoverThreshold is 0".

$ExOperation = 'cluster'

$action = [string]$Param_Action
$groupParam = ([string]$Param_Group).Trim()
$nodeParam = ([string]$Param_Node).Trim()
$computer = [string]$env:COMPUTERNAME
$waitSeconds = 180
$failedGraceSeconds = 30
$stopReason = 'terraform-provider-exchange servicing'
$exchangeSnapIn = 'Microsoft.Exchange.Management.PowerShell.Admin'
$failoverKeyPath = $ExProviderKey + '\ClusterFailover'
# Events older than this operation are not its doing (local time, as the event log keeps it).
$operationStarted = [datetime]::Now.AddSeconds(-5)

$actions = @('move_group', 'stop_service', 'start_service', 'stop_cms', 'start_cms',
    'offline_evs_resources', 'online_group', 'block_failover', 'allow_failover')
if ($actions -notcontains $action) {
    Stop-ExOperation 'invalid' ('"' + $action + '" is not a cluster action (' + ($actions -join ', ') + ')')
}
if ($groupParam -ne '' -and $groupParam -notmatch $ExClusterGroupPattern) {
    Stop-ExOperation 'invalid' ('"' + $groupParam + '" is not a cluster group name (letters, digits, space and . _ ( ) # , & + -, at most 128, a letter or digit first)')
}
if ($nodeParam -ne '' -and $nodeParam -notmatch $ExClusterNodePattern) {
    Stop-ExOperation 'invalid' ('"' + $nodeParam + '" is not a cluster node name (letters, digits, hyphen and underscore, at most 63)')
}
if ($groupParam -eq '' -and $action -ne 'stop_service' -and $action -ne 'start_service') {
    Stop-ExOperation 'invalid' ('the cluster action ' + $action + ' needs a group')
}
if ($action -eq 'move_group' -and $nodeParam -eq '') {
    Stop-ExOperation 'invalid' 'move_group needs the node to move the group to'
}

# ---------------------------------------------------------------------------------------
# Helpers.

function Get-ExClusSvc {
    foreach ($s in @(Get-WmiObject -Class Win32_Service -Filter "Name = 'ClusSvc'" -ErrorAction Stop)) { return $s }
    return $null
}

function Test-ExClusSvcRunning {
    try {
        $s = Get-ExClusSvc
        return ($null -ne $s -and [string]$s.State -eq 'Running')
    } catch {
        return $false
    }
}

$clusSvc = Get-ExClusSvc
if ($null -eq $clusSvc -or [string]$clusSvc.StartMode -eq 'Disabled') {
    Stop-ExOperation 'not_clustered' ($computer + ' is not a cluster node (the cluster service ClusSvc is missing or disabled)')
}
$clusterExe = [System.IO.Path]::Combine([string]$env:SystemRoot, 'System32\cluster.exe')
if (-not [System.IO.File]::Exists($clusterExe)) {
    Stop-ExOperation 'not_clustered' ($computer + ' has no ' + $clusterExe + ' (the cluster command line)')
}

# Invoke-ExClusterExe runs cluster.exe with $Arguments, each a separate argument, and
# returns @{ Code = exit code; Output = its stdout and stderr as one line }. ErrorAction
# Continue around the call: in PowerShell 2.0 a native command's stderr line, redirected,
# would otherwise be a terminating error.
function Invoke-ExClusterExe {
    param([string[]]$Arguments)
    $ErrorActionPreference = 'Continue'
    $output = & $clusterExe $Arguments 2>&1
    $code = $LASTEXITCODE
    $ErrorActionPreference = 'Stop'
    $lines = New-Object System.Collections.ArrayList
    foreach ($o in @($output)) {
        $text = ([string]$o).Trim()
        if ($text -ne '') { [void]$lines.Add($text) }
    }
    return @{ 'Code' = $code; 'Output' = ($lines -join ' ') }
}

# Get-ExSafeName returns a name the cluster reported (group, resource), for cluster.exe's
# command line: refused when it could be misread there (a double quote, which PowerShell 2.0
# does not escape for native commands, or a leading / or -, which cluster.exe reads as an
# option). Such a name must be handled by hand.
function Get-ExSafeName {
    param([string]$Name)
    if ($Name -eq '' -or $Name.IndexOf('"') -ge 0 -or $Name.StartsWith('/') -or $Name.StartsWith('-')) {
        Stop-ExOperation 'refused' ('the cluster name "' + $Name + '" cannot be passed to cluster.exe safely (empty, a double quote, or a leading / or -): change it by hand')
    }
    return $Name
}

# Assert-ExClusterExe faults refused when cluster.exe failed, with its own words.
function Assert-ExClusterExe {
    param($Run, [string]$What)
    if ($null -ne $Run['Code'] -and [int]$Run['Code'] -ne 0) {
        Stop-ExOperation 'refused' ('cluster.exe ' + $What + ' failed with exit code ' + $Run['Code'] + ': ' + $Run['Output'] + (Get-ExEventHint))
    }
}

# Read-ExClusterNow reads the cluster, or faults unavailable.
function Read-ExClusterNow {
    try {
        return (Read-ExCluster)
    } catch {
        Stop-ExOperation 'unavailable' ('the cluster WMI provider (root\MSCluster) does not answer on ' + $computer + ': ' + $_.Exception.Message)
    }
}

# Get-ExGroupNow reads the group named by the Group parameter, or faults not_found.
function Get-ExGroupNow {
    $cluster = Read-ExClusterNow
    $g = Find-ExClusterGroup $cluster $groupParam
    if ($null -eq $g) {
        $names = @()
        foreach ($x in $cluster['Groups']) { $names += [string]$x['Name'] }
        Stop-ExOperation 'not_found' ('the cluster has no group "' + $groupParam + '" (groups: ' + ($names -join ', ') + ')')
    }
    return $g
}

# Get-ExEventHint: what this node's event logs say since the operation started, for a
# refusal's message ('' when nothing).
function Get-ExEventHint {
    $hint = ''
    try {
        $events = Get-ExClusterEvents $operationStarted
        if ($events -contains '1025') {
            $hint = $hint + '; MSExchangeCluster event 1025 was logged: the Exchange virtual server must be upgraded before it can come online (Upgrade Exchange Virtual Server)'
        }
        if ($events -contains 'c1037b44') {
            $hint = $hint + '; error c1037b44 was logged: the version of Exchange on this node does not match the virtual server''s'
        }
    } catch { }
    return $hint
}

function Test-ExSettled {
    param([string]$State)
    return ($State -eq 'Online' -or $State -eq 'PartialOnline' -or $State -eq 'Offline')
}

# Wait-ExGroup polls the group until & $Done answers true (returns the group), faults
# refused when the group stays Failed for $failedGraceSeconds, timeout after $waitSeconds.
function Wait-ExGroup {
    param([scriptblock]$Done, [string]$What)
    $deadline = [datetime]::UtcNow.AddSeconds($waitSeconds)
    $failedSince = $null
    while ($true) {
        $g = Get-ExGroupNow
        if (& $Done $g) { return $g }
        if ([string]$g['State'] -eq 'Failed') {
            if ($null -eq $failedSince) { $failedSince = [datetime]::UtcNow }
            if ([datetime]::UtcNow -gt $failedSince.AddSeconds($failedGraceSeconds)) {
                Stop-ExOperation 'refused' ('group ' + $g['Name'] + ' failed on ' + $g['Owner'] + ' while waiting until it ' + $What +
                    (Get-ExResourceSummary $g) + (Get-ExEventHint))
            }
        } else {
            $failedSince = $null
        }
        if ([datetime]::UtcNow -gt $deadline) {
            Stop-ExOperation 'timeout' ('group ' + $g['Name'] + ' is ' + $g['State'] + ' on ' + $g['Owner'] + ' after ' + $waitSeconds +
                ' seconds of waiting until it ' + $What + (Get-ExResourceSummary $g))
        }
        Start-Sleep -Seconds 2
    }
}

function Get-ExResourceSummary {
    param($Group)
    $parts = @()
    foreach ($r in $Group['Resources']) {
        if ([string]$r['state'] -ne 'Online' -and [string]$r['state'] -ne 'Offline') { $parts += ([string]$r['name'] + ' ' + [string]$r['state']) }
    }
    if ($parts.Count -eq 0) { return '' }
    return ' (' + ($parts -join ', ') + ')'
}

# Wait-ExClusSvc waits until ClusSvc is in $Target, asking once (Win32_Service, as
# service.ps1 does).
function Wait-ExClusSvc {
    param([string]$Target)
    $deadline = [datetime]::UtcNow.AddSeconds($waitSeconds)
    $asked = $false
    while ($true) {
        $s = Get-ExClusSvc
        $state = ([string]$s.State).Replace(' ', '')
        if ($state -eq $Target) { return }
        if (-not $asked -and $state -notlike '*Pending') {
            if ($Target -eq 'Stopped') {
                $rv = [int]($s.StopService()).ReturnValue
                $okCodes = @(0, 6)
            } else {
                $rv = [int]($s.StartService()).ReturnValue
                $okCodes = @(0, 10)
            }
            if ($okCodes -notcontains $rv) {
                Stop-ExOperation 'refused' ('Windows refused to ' + $action.Replace('_service', '') + ' the cluster service on ' + $computer + ': ' + (Get-ExServiceReturnText $rv))
            }
            $asked = $true
        }
        if ([datetime]::UtcNow -gt $deadline) {
            Stop-ExOperation 'timeout' ('the cluster service on ' + $computer + ' is still ' + $state + ' after ' + $waitSeconds + ' seconds')
        }
        Start-Sleep -Seconds 1
    }
}

function Add-ExExchangeSnapIn {
    try {
        if ($null -eq (Get-PSSnapin -Name $exchangeSnapIn -ErrorAction SilentlyContinue)) {
            Add-PSSnapin -Name $exchangeSnapIn -ErrorAction Stop
        }
        return $true
    } catch {
        return $false
    }
}

function Get-ExShortGroupName {
    param($Group)
    $v = [string]$Group['Virtual']
    $dot = $v.IndexOf('.')
    if ($dot -gt 0) { $v = $v.Substring(0, $dot) }
    return $v
}

# Write-ExClusterResult writes wire.ClusterResult for $Group ($null: nothing readable).
function Write-ExClusterResult {
    param($Group)
    $name = $groupParam
    $owner = ''
    $state = ''
    $resources = New-Object System.Collections.ArrayList
    if ($null -ne $Group) {
        $name = [string]$Group['Name']
        $owner = [string]$Group['Owner']
        $state = [string]$Group['State']
        $resources = $Group['Resources']
    }
    Write-Result $ExOperation @{
        'group'                   = $name
        'owner'                   = $owner
        'group_state'             = $state
        'resources'               = $resources
        'cluster_service_running' = (Test-ExClusSvcRunning)
    }
}

# The group as it is now, or $null when it cannot be read (the cluster service is stopped
# here) or none was named.
function Get-ExGroupIfReadable {
    if ($groupParam -eq '' -or -not (Test-ExClusSvcRunning)) { return $null }
    try {
        return (Find-ExClusterGroup (Read-ExCluster) $groupParam)
    } catch {
        return $null
    }
}

# The cluster must answer for every action but the service ones.
if ($action -ne 'stop_service' -and $action -ne 'start_service' -and -not (Test-ExClusSvcRunning)) {
    Stop-ExOperation 'unavailable' ('the cluster service is not running on ' + $computer + ': start it first (start_service)')
}

# ---------------------------------------------------------------------------------------
# The actions.

switch ($action) {
    'move_group' {
        $cluster = Read-ExClusterNow
        $target = ''
        $targetState = -1
        foreach ($n in $cluster['Nodes']) {
            if ([string]::Equals([string]$n['Name'], $nodeParam, [System.StringComparison]::OrdinalIgnoreCase)) {
                $target = [string]$n['Name']
                $targetState = $n['State']
            }
        }
        if ($target -eq '') { Stop-ExOperation 'not_found' ('"' + $nodeParam + '" is not a node of this cluster') }
        $g = Get-ExGroupNow
        $wasOnline = ([string]$g['State'] -eq 'Online')
        $onTarget = [string]::Equals([string]$g['Owner'], $target, [System.StringComparison]::OrdinalIgnoreCase)
        if (-not $onTarget) {
            if ($targetState -ne 0) {
                Stop-ExOperation 'refused' ('node ' + $target + ' is not up in the cluster (MSCluster_Node State ' + $targetState + '): group ' + $g['Name'] + ' cannot move there')
            }
            $is2007 = $false
            try {
                $msi = [string](Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Exchange\Setup' -ErrorAction Stop).MsiInstallPath
                $is2007 = ($msi -ne '' -and [System.IO.File]::Exists([System.IO.Path]::Combine($msi, 'bin\ExSetup.exe')))
            } catch { $is2007 = $false }
            $isCms = $false
            foreach ($r in $g['Resources']) { if ([string]$r['type'] -like 'Microsoft Exchange*') { $isCms = $true } }
            if ($is2007 -and $isCms -and -not (Test-ExExchangeResourcesOffline $g) -and (Add-ExExchangeSnapIn)) {
                try {
                    Move-ClusteredMailboxServer -Identity (Get-ExShortGroupName $g) -TargetMachine $target -MoveComment $stopReason -Confirm:$false -ErrorAction Stop | Out-Null
                } catch {
                    Stop-ExOperation 'refused' ('Move-ClusteredMailboxServer ' + (Get-ExShortGroupName $g) + ' to ' + $target + ': ' + $_.Exception.Message)
                }
            } else {
                $run = Invoke-ExClusterExe @('group', (Get-ExSafeName ([string]$g['Name'])), ('/moveto:' + $target), ('/wait:' + $waitSeconds))
                # A failed cluster.exe is believed unless the move went through or still runs
                # (its /wait ran out first).
                $now = Get-ExGroupNow
                if (-not [string]::Equals([string]$now['Owner'], $target, [System.StringComparison]::OrdinalIgnoreCase) -and [string]$now['State'] -ne 'Pending') {
                    Assert-ExClusterExe $run ('group ' + $g['Name'] + ' /moveto:' + $target)
                }
            }
        }
        $what = 'is owned by ' + $target + ' and settled'
        if ($wasOnline) { $what = 'is online on ' + $target }
        $g = Wait-ExGroup {
            param($x)
            if (-not [string]::Equals([string]$x['Owner'], $target, [System.StringComparison]::OrdinalIgnoreCase)) {
                # Back on another node and settled there: the move failed (the cluster moves a
                # group that cannot come online back, or leaves it failed).
                if ((Test-ExSettled ([string]$x['State'])) -and [string]$x['Owner'] -ne '' -and ([datetime]::UtcNow -gt $operationStarted.ToUniversalTime().AddSeconds(20))) {
                    Stop-ExOperation 'refused' ('group ' + $x['Name'] + ' is ' + $x['State'] + ' on ' + $x['Owner'] + ', not on ' + $target + ', after the move' + (Get-ExEventHint))
                }
                return $false
            }
            if ($wasOnline) { return ([string]$x['State'] -eq 'Online') }
            return (Test-ExSettled ([string]$x['State']))
        } $what
        Write-ExClusterResult $g
    }

    'stop_service' {
        Wait-ExClusSvc 'Stopped'
        Write-ExClusterResult $null
    }

    'start_service' {
        Wait-ExClusSvc 'Running'
        # Running is not joined: wait until the cluster answers and lists this node Up.
        $deadline = [datetime]::UtcNow.AddSeconds($waitSeconds)
        while ($true) {
            $up = $false
            try {
                foreach ($n in (Read-ExCluster)['Nodes']) {
                    if ([string]::Equals([string]$n['Name'], $computer, [System.StringComparison]::OrdinalIgnoreCase) -and $n['State'] -eq 0) { $up = $true }
                }
            } catch { $up = $false }
            if ($up) { break }
            if ([datetime]::UtcNow -gt $deadline) {
                Stop-ExOperation 'timeout' ('the cluster service runs on ' + $computer + ' but the node is not up in the cluster after ' + $waitSeconds + ' seconds')
            }
            Start-Sleep -Seconds 2
        }
        Write-ExClusterResult (Get-ExGroupIfReadable)
    }

    'stop_cms' {
        $g = Get-ExGroupNow
        if (-not (Test-ExExchangeResourcesOffline $g)) {
            if (-not (Add-ExExchangeSnapIn)) {
                Stop-ExOperation 'unavailable' ('the Exchange 2007 management snap-in ' + $exchangeSnapIn + ' is not installed on ' + $computer + ': Stop-ClusteredMailboxServer cannot run here')
            }
            try {
                Stop-ClusteredMailboxServer -Identity (Get-ExShortGroupName $g) -StopReason $stopReason -Confirm:$false -ErrorAction Stop | Out-Null
            } catch {
                Stop-ExOperation 'refused' ('Stop-ClusteredMailboxServer ' + (Get-ExShortGroupName $g) + ': ' + $_.Exception.Message)
            }
            $g = Wait-ExGroup { param($x) (Test-ExExchangeResourcesOffline $x) } 'is stopped (every Exchange resource offline)'
        }
        Write-ExClusterResult $g
    }

    'start_cms' {
        $g = Get-ExGroupNow
        if ([string]$g['State'] -ne 'Online') {
            if (-not (Add-ExExchangeSnapIn)) {
                Stop-ExOperation 'unavailable' ('the Exchange 2007 management snap-in ' + $exchangeSnapIn + ' is not installed on ' + $computer + ': Start-ClusteredMailboxServer cannot run here')
            }
            try {
                Start-ClusteredMailboxServer -Identity (Get-ExShortGroupName $g) -Confirm:$false -ErrorAction Stop | Out-Null
            } catch {
                Stop-ExOperation 'refused' ('Start-ClusteredMailboxServer ' + (Get-ExShortGroupName $g) + ': ' + $_.Exception.Message + (Get-ExEventHint))
            }
            $g = Wait-ExGroup { param($x) ([string]$x['State'] -eq 'Online') } 'is online'
        }
        Write-ExClusterResult $g
    }

    'offline_evs_resources' {
        $g = Get-ExGroupNow
        # The System Attendant last (see the header); otherwise the order WMI lists them in.
        $order = New-Object System.Collections.ArrayList
        $last = New-Object System.Collections.ArrayList
        foreach ($r in $g['Resources']) {
            if ($ExEvsBaseResourceTypes -contains [string]$r['type']) { continue }
            if ([string]$r['type'] -like '*System Attendant*') { [void]$last.Add([string]$r['name']) } else { [void]$order.Add([string]$r['name']) }
        }
        foreach ($n in $last) { [void]$order.Add($n) }
        foreach ($resourceName in $order) {
            $now = Get-ExGroupNow
            $current = $null
            foreach ($r in $now['Resources']) { if ([string]$r['name'] -eq $resourceName) { $current = $r } }
            if ($null -eq $current -or [string]$current['state'] -eq 'Offline') { continue }
            $run = Invoke-ExClusterExe @('resource', (Get-ExSafeName $resourceName), '/offline', ('/wait:' + $waitSeconds))
            Assert-ExClusterExe $run ('resource ' + $resourceName + ' /offline')
        }
        $g = Wait-ExGroup {
            param($x)
            foreach ($r in $x['Resources']) {
                if ($ExEvsBaseResourceTypes -contains [string]$r['type']) { continue }
                if ([string]$r['state'] -ne 'Offline') { return $false }
            }
            return $true
        } 'has every resource but IP address, physical disk and network name offline'
        Write-ExClusterResult $g
    }

    'online_group' {
        $g = Get-ExGroupNow
        if ([string]$g['State'] -ne 'Online') {
            $run = Invoke-ExClusterExe @('group', (Get-ExSafeName ([string]$g['Name'])), '/online', ('/wait:' + $waitSeconds))
            $now = Get-ExGroupNow
            if ([string]$now['State'] -ne 'Online' -and [string]$now['State'] -ne 'Pending') { Assert-ExClusterExe $run ('group ' + $g['Name'] + ' /online') }
            $g = Wait-ExGroup { param($x) ([string]$x['State'] -eq 'Online') } 'is online'
        }
        Write-ExClusterResult $g
    }

    { $_ -eq 'block_failover' -or $_ -eq 'allow_failover' } {
        $g = Get-ExGroupNow
        $name = Get-ExSafeName ([string]$g['Name'])
        $threshold = [long]$g['Threshold']
        if ($threshold -lt 0) {
            Stop-ExOperation 'unavailable' ('the FailoverThreshold of group ' + $name + ' cannot be read')
        }
        $mutex = Enter-ExMutex
        try {
            $kept = $null
            $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($failoverKeyPath)
            if ($null -ne $key) {
                try { $kept = $key.GetValue($name, $null) } finally { $key.Close() }
            }
            if ($action -eq 'block_failover') {
                if ($threshold -ne 0) {
                    # Keep the value first: an interrupted block can still be undone.
                    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($failoverKeyPath)
                    try {
                        $key.SetValue($name, $threshold.ToString($ExInvariant), [Microsoft.Win32.RegistryValueKind]::String)
                    } finally {
                        $key.Close()
                    }
                    $run = Invoke-ExClusterExe @('group', $name, '/prop', 'FailoverThreshold=0')
                    Assert-ExClusterExe $run ('group ' + $name + ' /prop FailoverThreshold=0')
                }
                $g = Wait-ExGroup { param($x) ([long]$x['Threshold'] -eq 0) } 'has FailoverThreshold 0'
            } else {
                $restore = -1
                if ($null -ne $kept) {
                    try { $restore = [long]::Parse([string]$kept, $ExInvariant) } catch { $restore = -1 }
                }
                if ($threshold -eq 0) {
                    if ($restore -gt 0 -and $restore -lt 4294967295) {
                        $run = Invoke-ExClusterExe @('group', $name, '/prop', ('FailoverThreshold=' + $restore.ToString($ExInvariant)))
                    } else {
                        $run = Invoke-ExClusterExe @('group', $name, '/prop:FailoverThreshold', '/usedefault')
                    }
                    Assert-ExClusterExe $run ('group ' + $name + ' /prop FailoverThreshold')
                    $g = Wait-ExGroup { param($x) ([long]$x['Threshold'] -ne 0) } 'has a FailoverThreshold above 0'
                }
                if ($null -ne $kept) {
                    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($failoverKeyPath, $true)
                    if ($null -ne $key) {
                        try { $key.DeleteValue($name, $false) } finally { $key.Close() }
                    }
                }
            }
        } finally {
            Exit-ExMutex $mutex
        }
        Write-ExClusterResult $g
    }
}
