# probe: reads what a refresh must read from a live server and
# writes it as exchange.Facts (internal/exchange/facts.go): the hashtable keys at the end are
# exactly that struct's json tags (scripts_test.go checks every tag appears as a key here).
#
# Parameters: $Param_Server, the name the provider believes this host has.
# Faults: wrong_server (this host is another computer), not_exchange (no Exchange found).
#
# Rules of this file:
# - PowerShell 2.0 only, ASCII only (see prelude.ps1).
# - Every read that can fail on an older Windows or Exchange fails soft: it yields a default
#   and the probe goes on. Only the two faults above end the probe on purpose.
# - Parameters are data: they are compared, never turned into code, paths or queries.
# - Registry reads use the .NET Microsoft.Win32.Registry API. WinRM runs the 64-bit
#   powershell.exe, which sees the 64-bit registry where Exchange 2007 x64 writes; .NET 2.0
#   has no RegistryView, so a 32-bit PowerShell would read the Wow6432Node copy instead.
# - Lists are ArrayLists stored straight into the result hashtable, so an empty list is
#   written [] and a one-element list [x] (no pipeline unrolling on the way).

$ExOperation = 'probe'

$HKLM = [Microsoft.Win32.Registry]::LocalMachine
$HKCU = [Microsoft.Win32.Registry]::CurrentUser

# ---------------------------------------------------------------------------------------
# Fail-soft helpers. "return ,$x" keeps an array one object on its way out of a function.

function Get-ExRegValue {
    param($Root, [string]$Path, [string]$Name, $Default = $null)
    $key = $null
    try {
        $key = $Root.OpenSubKey($Path)
        if ($null -eq $key) { return ,$Default }
        $value = $key.GetValue($Name)
        if ($null -eq $value) { return ,$Default }
        return ,$value
    } catch {
        return ,$Default
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

function Test-ExRegKey {
    param($Root, [string]$Path)
    try {
        $key = $Root.OpenSubKey($Path)
        if ($null -eq $key) { return $false }
        $key.Close()
        return $true
    } catch {
        return $false
    }
}

function Test-ExRegValue {
    param($Root, [string]$Path, [string]$Name)
    $key = $null
    try {
        $key = $Root.OpenSubKey($Path)
        if ($null -eq $key) { return $false }
        foreach ($n in $key.GetValueNames()) {
            if ([string]::Equals($n, $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return $true }
        }
        return $false
    } catch {
        return $false
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

function Get-ExRegSubKeyNames {
    param($Root, [string]$Path)
    $key = $null
    try {
        $key = $Root.OpenSubKey($Path)
        if ($null -eq $key) { return ,@() }
        return ,@($key.GetSubKeyNames())
    } catch {
        return ,@()
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

# Get-ExFileVersion returns a file's version as major.minor.build.revision from its version
# resource (the numbers, not the FileVersion text, which may carry a branch suffix), or ''.
function Get-ExFileVersion {
    param([string]$Path)
    try {
        if ($Path -eq '' -or -not [System.IO.File]::Exists($Path)) { return '' }
        $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($Path)
        return ('{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart)
    } catch {
        return ''
    }
}

function Test-ExSameName {
    param([string]$A, [string]$B)
    return ($A -ne '' -and [string]::Equals($A, $B, [System.StringComparison]::OrdinalIgnoreCase))
}

# Get-ExShortName: the host label of a DNS name ("ex01.contoso.com" -> "ex01").
function Get-ExShortName {
    param([string]$Name)
    $i = $Name.IndexOf('.')
    if ($i -gt 0) { return $Name.Substring(0, $i) }
    return $Name
}

# Get-ExKB finds "KBnnnnnn" in a display name and returns it as "KBnnnnnn", or ''.
function Get-ExKB {
    param([string]$Text)
    $m = [regex]::Match($Text, 'KB\s?(' + $ExKBDigits + ')(?![0-9])', [System.Text.RegularExpressions.RegexOptions]::IgnoreCase)
    if ($m.Success) { return 'KB' + $m.Groups[1].Value }
    return ''
}

# ConvertFrom-ExPackedGuid turns a Windows Installer "packed" GUID (the 32 hex digits it uses
# for key names under Installer\UserData) back into {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}:
# the first three groups are reversed whole, the last eight bytes each have their two hex
# digits swapped.
function ConvertFrom-ExPackedGuid {
    param([string]$Packed)
    if ($Packed -notmatch '^[0-9A-Fa-f]{32}$') { return '' }
    $rev = {
        param([string]$s)
        $a = $s.ToCharArray()
        [System.Array]::Reverse($a)
        return (-join $a)
    }
    $p1 = & $rev $Packed.Substring(0, 8)
    $p2 = & $rev $Packed.Substring(8, 4)
    $p3 = & $rev $Packed.Substring(12, 4)
    $tail = ''
    for ($i = 16; $i -lt 32; $i += 2) {
        $tail += $Packed.Substring($i + 1, 1) + $Packed.Substring($i, 1)
    }
    return ('{' + $p1 + '-' + $p2 + '-' + $p3 + '-' + $tail.Substring(0, 4) + '-' + $tail.Substring(4) + '}').ToUpperInvariant()
}

# ---------------------------------------------------------------------------------------
# Names: which computer this is.

$computer = [string]$env:COMPUTERNAME

# HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters: Hostname (DNS host label) and
# Domain (primary DNS suffix); a Group Policy suffix under
# HKLM\SOFTWARE\Policies\Microsoft\System\DNSClient PrimaryDnsSuffix wins over it
# (Microsoft KB 275553, "Primary DNS suffix" policy). An empty suffix is "FQDN not set",
# which makes Exchange setup hang ["Service Packs fuer Exchange 2007"].
$tcpipPath = 'SYSTEM\CurrentControlSet\Services\Tcpip\Parameters'
$hostName = [string](Get-ExRegValue $HKLM $tcpipPath 'Hostname' '')
if ($hostName -eq '') { $hostName = $computer }
$dnsSuffix = [string](Get-ExRegValue $HKLM 'SOFTWARE\Policies\Microsoft\System\DNSClient' 'PrimaryDnsSuffix' '')
if ($dnsSuffix -eq '') { $dnsSuffix = [string](Get-ExRegValue $HKLM $tcpipPath 'Domain' '') }
$fqdn = $hostName
if ($dnsSuffix -ne '') { $fqdn = $hostName + '.' + $dnsSuffix }

# ---------------------------------------------------------------------------------------
# Product and build ["How to install the latest Service Pack or Update Rollup for Exchange 2007"].

$product = ''
$build = ''
$installPath = ''

# Exchange 2007: HKLM\SOFTWARE\Microsoft\Exchange\Setup, value MsiInstallPath, is the install
# folder; bin\ExSetup.exe's file version is the build (8.x.y.z).
try {
    $msiInstallPath = [string](Get-ExRegValue $HKLM 'SOFTWARE\Microsoft\Exchange\Setup' 'MsiInstallPath' '')
    if ($msiInstallPath -ne '') {
        $v = Get-ExFileVersion ([System.IO.Path]::Combine($msiInstallPath, 'bin\ExSetup.exe'))
        if ($v.StartsWith('8.')) {
            $product = '2007'
            $build = $v
            $installPath = $msiInstallPath
        }
    }
} catch { }

# Exchange 5.5 / 2000 / 2003: the Information Store's STORE.EXE file version (the version ESM
# shows does not change with hotfixes; the file does) [KB 328839].
# Where: the MSExchangeIS service's ImagePath
# (HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS), else the Exchange folder in
# HKLM\SOFTWARE\Microsoft\Exchange\Setup, value Services, plus bin\store.exe.
# 5.5.x is Exchange 5.5, 6.0.x Exchange 2000, 6.5.x Exchange 2003.
if ($product -eq '') {
  try {
    $storePaths = New-Object System.Collections.ArrayList
    $imagePath = [string](Get-ExRegValue $HKLM 'SYSTEM\CurrentControlSet\Services\MSExchangeIS' 'ImagePath' '')
    if ($imagePath -ne '') {
        $m = [regex]::Match($imagePath, '^\s*"?([^"]*?store\.exe)', [System.Text.RegularExpressions.RegexOptions]::IgnoreCase)
        if ($m.Success) { [void]$storePaths.Add($m.Groups[1].Value) }
    }
    $servicesPath = [string](Get-ExRegValue $HKLM 'SOFTWARE\Microsoft\Exchange\Setup' 'Services' '')
    if ($servicesPath -ne '') { [void]$storePaths.Add([System.IO.Path]::Combine($servicesPath, 'bin\store.exe')) }
    foreach ($storePath in $storePaths) {
        $v = Get-ExFileVersion $storePath
        if ($v.StartsWith('5.5.')) {
            $product = '5.5'
        } elseif ($v.StartsWith('6.0.')) {
            $product = '2000'
        } elseif ($v.StartsWith('6.5.')) {
            $product = '2003'
        }
        if ($product -ne '') {
            $build = $v
            $installPath = [System.IO.Path]::GetDirectoryName([System.IO.Path]::GetDirectoryName($storePath))
            break
        }
    }
  } catch { }
}

# ---------------------------------------------------------------------------------------
# Windows services (Win32_Service), read once: state and start mode.

$allServices = @()
try { $allServices = @(Get-WmiObject -Class Win32_Service -ErrorAction Stop) } catch { $allServices = @() }

function Get-ExService {
    param([string]$Name)
    foreach ($s in $allServices) {
        if (Test-ExSameName $s.Name $Name) { return $s }
    }
    return $null
}

# New-ExServiceFacts (prelude.ps1) writes one as exchange.ServiceFacts.

# ---------------------------------------------------------------------------------------
# Windows: Win32_OperatingSystem Caption, Version, ServicePackMajorVersion, LastBootUpTime
# (a DMTF datetime; the changing boot time is how apply sees a reboot happen).

$osCaption = ''
$osVersion = ''
$osServicePack = 0
$bootTime = $null
try {
    $os = @(Get-WmiObject -Class Win32_OperatingSystem -ErrorAction Stop)[0]
    $osCaption = ([string]$os.Caption).Trim()
    $osVersion = [string]$os.Version
    if ($null -ne $os.ServicePackMajorVersion) { $osServicePack = [int]$os.ServicePackMajorVersion }
    $bootTime = [System.Management.ManagementDateTimeConverter]::ToDateTime([string]$os.LastBootUpTime)
} catch { }

# The probe's assumptions: PowerShell 2.0 over WinRM, which exist for Windows Server 2003 SP2
# and later only, and Win32_OperatingSystem readable (the boot time is
# how an apply sees a reboot). On a host where they fail it refuses, rather than report facts
# it read wrongly: Windows 2000 (5.0) and NT 4.0 (4.x) run every Exchange 5.5 and 2000 server
# and some Exchange 2003 servers, and are to be reached through a management host later.
if ($osVersion -eq '' -or $null -eq $bootTime) {
    Stop-ExOperation 'unsupported' ('Win32_OperatingSystem could not be read on ' + $env:COMPUTERNAME + ': the probe needs the Windows version and boot time (WMI)')
}
if ($osVersion.StartsWith('4.') -or $osVersion.StartsWith('5.0')) {
    Stop-ExOperation 'unsupported' ($env:COMPUTERNAME + ' runs ' + $osCaption + ' (' + $osVersion + '): the probe assumes Windows Server 2003 SP2 or later; Exchange 5.5, 2000 and 2003 servers on Windows NT 4.0 or 2000 cannot be serviced by this provider yet (they have no WinRM or PowerShell 2.0; a management host comes later)')
}
if ($PSVersionTable.PSVersion.Major -lt 2) {
    Stop-ExOperation 'unsupported' ('PowerShell ' + [string]$PSVersionTable.PSVersion + ' on ' + $env:COMPUTERNAME + ': the scripts need PowerShell 2.0 (Windows Management Framework 2.0)')
}

# ---------------------------------------------------------------------------------------
# Cluster [KB 328839, "Service Packs fuer Exchange 2007"]: the Windows cluster WMI provider (namespace
# root\MSCluster, Windows Server 2003 and 2008), read by Read-ExCluster (prelude.ps1). The
# Exchange group is the resource group holding a resource whose type names Exchange (System
# Attendant, Information Store, ...: an Exchange 2000/2003 EVS or an Exchange 2007 CMS); its
# network name is the virtual server name; its owner node is the active node.
#
# What the probe reports of that group (exchange.ClusterFacts):
# - group_state: MSCluster_ResourceGroup State (Online, Offline, Failed, PartialOnline, Pending).
# - resources: its resources (MSCluster_ResourceGroupToResource) with their Type and State
#   (Online, Offline, Failed, OnlinePending, OfflinePending).
# - failover_blocked: the group's FailoverThreshold is 0, which is how cluster.ps1
#   block_failover keeps it from failing over (read cluster-wide: any node sees it).
# - node_builds: ONLY this node's own Exchange build, keyed by its computer name. No other
#   node's build can be read from here: Exchange keeps a node's build in that node's files
#   (ExSetup.exe / STORE.EXE) and Active Directory records the CMS/EVS's version, not each
#   node's; reading another node's files would need a second hop WinRM does not give. The
#   caller probes every node and merges their node_builds.
# - groups: every Exchange group of the cluster (an active/active cluster has one EVS per
#   node), each with its name, owner, state, resources and failover block as above; the
#   single fields describe the one group the probe selects (see below).
#   preferred_owners are the group's preferred owner nodes (a set: WMI gives no order).
#   ad_version (Exchange 2000/2003): the EVS's serialNumber in Active Directory, '' when
#   unread (Get-ExVirtualServerVersions).
# - cluster_name: the Windows cluster's own name (MSCluster_Cluster), '' when unread.
# - events: Get-ExClusterEvents (prelude.ps1) since the last boot: "1025" (MSExchangeCluster,
#   "must be upgraded before coming online") and "c1037b44" ("version on this computer does
#   not match"), from the newest 200 entries of the Application and System logs. Read on
#   every configured cluster node, also while its cluster service is stopped.

# ConvertTo-ExLdapValue escapes a value for an LDAP filter (RFC 4515).
function ConvertTo-ExLdapValue {
    param([string]$Value)
    return $Value.Replace('\', '\5c').Replace('*', '\2a').Replace('(', '\28').Replace(')', '\29')
}

# New-ExServerSearcher searches the Exchange server objects (msExchExchangeServer) of the
# Active Directory configuration partition that also match $Filter, loading $Properties,
# with a bound wait (ADSI; it throws when no domain controller can be read).
function New-ExServerSearcher {
    param([string]$Filter, [string[]]$Properties)
    $rootDse = New-Object System.DirectoryServices.DirectoryEntry('LDAP://RootDSE')
    $configNC = [string]$rootDse.Properties['configurationNamingContext'].Value
    $searchRoot = New-Object System.DirectoryServices.DirectoryEntry('LDAP://' + $configNC)
    $searcher = New-Object System.DirectoryServices.DirectorySearcher($searchRoot)
    $searcher.Filter = '(&(objectClass=msExchExchangeServer)' + $Filter + ')'
    foreach ($p in $Properties) { [void]$searcher.PropertiesToLoad.Add($p) }
    $searcher.ClientTimeout = [TimeSpan]::FromSeconds(20)
    return $searcher
}

# Get-ExVirtualServerVersions: the version Active Directory records for each Exchange
# 2000/2003 virtual server of $Groups (the probe's Exchange groups), by lower-case short
# network name: the serialNumber of its Exchange server object (objectClass
# msExchExchangeServer, cn = the EVS name) in the configuration partition, e.g. "Version 6.5
# (Build 7638.2: Service Pack 2)". The Exchange Server Analyzer reads the same attribute as
# the server's version and service pack; Exchange System Manager shows it on the server's
# General tab, where KB 328839 (step 18) checks the version; "Upgrade Exchange Virtual
# Server" updates the EVS's metadata in Active Directory to the new version (Windows IT Pro,
# "Exchange 2003 Clusters: Rolling Upgrades", 2005). One query for every EVS. An EVS with no
# answer is left out: no domain controller reachable, no credentials for the second hop,
# no such object; the planner then cannot read whether the EVS was upgraded.
function Get-ExVirtualServerVersions {
    param($Groups)
    $versions = @{}
    $terms = ''
    foreach ($g in $Groups) {
        $name = Get-ExShortName ([string]$g['Virtual'])
        if ($name -eq '') { continue }
        # The names come from the cluster, not a parameter.
        $terms += '(cn=' + (ConvertTo-ExLdapValue $name) + ')'
    }
    if ($terms -eq '') { return $versions }
    try {
        $searcher = New-ExServerSearcher ('(|' + $terms + ')') @('cn', 'serialNumber')
        foreach ($found in $searcher.FindAll()) {
            if ($found.Properties['cn'].Count -eq 0 -or $found.Properties['serialnumber'].Count -eq 0) { continue }
            $versions[([string]$found.Properties['cn'][0]).ToLowerInvariant()] = [string]$found.Properties['serialnumber'][0]
        }
    } catch { }
    return $versions
}

$clusterFacts = $null
$exchangeGroups = New-Object System.Collections.ArrayList
$clusterService = Get-ExService 'ClusSvc'
$clusterRunning = ($null -ne $clusterService -and [string]$clusterService.State -eq 'Running')
# A node of a configured cluster has ClusSvc set to start automatically; an unconfigured
# Windows Server 2003 Enterprise install has it Disabled.
$clusterConfigured = ($null -ne $clusterService -and [string]$clusterService.StartMode -ne 'Disabled')
$clusterWmiOk = $false
$clusterNodes = New-Object System.Collections.ArrayList
$clusterName = ''

if ($clusterRunning) {
  try {
    $cluster = Read-ExCluster
    $clusterWmiOk = ($cluster['Nodes'].Count -gt 0)
    $clusterName = [string]$cluster['Name']
    foreach ($n in $cluster['Nodes']) { [void]$clusterNodes.Add([string]$n['Name']) }
    $clusterNodes.Sort()
    foreach ($g in $cluster['Groups']) {
        $isExchangeGroup = $false
        $hasDisk = $false
        foreach ($r in $g['Resources']) {
            # Exchange 5.5 ran its services as resources that may be of a generic type: there
            # the resource name ("Microsoft Exchange Information Store", ...) is matched too.
            if ([string]$r['type'] -like '*Exchange*' -or ($product -eq '5.5' -and [string]$r['name'] -like '*Exchange*')) { $isExchangeGroup = $true }
            if ([string]$r['type'] -eq 'Physical Disk') { $hasDisk = $true }
        }
        if (-not $isExchangeGroup) { continue }
        [void]$exchangeGroups.Add(@{
            'Preferred' = $g['Preferred']
            'Group'     = [string]$g['Name']
            'Virtual'   = [string]$g['Virtual']
            'Owner'     = [string]$g['Owner']
            'HasDisk'   = $hasDisk
            'State'     = [string]$g['State']
            'Threshold' = $g['Threshold']
            'Resources' = $g['Resources']
        })
    }
  } catch { }
}

# ---------------------------------------------------------------------------------------
# Is this the server the provider asked for? Host names are compared without the DNS suffix
# (split DNS and aliases make suffixes unreliable; NetBIOS names are unique in a domain). A
# CMS/EVS name means the node that owns it now (its network name resolves there): asked for
# it, a passive node answers wrong_server and says where it is active.

$requested = [string]$Param_Server
$requested = $requested.Trim()
$selectedGroup = $null
if ($requested -ne '') {
    $requestedShort = Get-ExShortName $requested
    $isThisHost = (Test-ExSameName $requestedShort $computer) -or (Test-ExSameName $requestedShort $hostName)
    foreach ($g in $exchangeGroups) {
        if ($isThisHost) { break }
        $virtualShort = Get-ExShortName $g['Virtual']
        if ((Test-ExSameName $requestedShort $virtualShort) -or (Test-ExSameName $requestedShort $g['Group'])) {
            $selectedGroup = $g
            if ($g['Owner'] -ne '' -and -not (Test-ExSameName $g['Owner'] $computer)) {
                Stop-ExOperation 'wrong_server' ('this host is ' + $computer + ', a passive node of ' + $virtualShort +
                    '; ' + $virtualShort + ' is active on ' + $g['Owner'])
            }
            $isThisHost = $true
        }
    }
    # The cluster's own name (an active/active cluster is called by it): the node that owns
    # the group holding that network name answers for it.
    if (-not $isThisHost -and $clusterName -ne '' -and (Test-ExSameName $requestedShort (Get-ExShortName $clusterName))) {
        $coreOwner = ''
        foreach ($g in $cluster['Groups']) {
            if (Test-ExSameName (Get-ExShortName ([string]$g['Virtual'])) (Get-ExShortName $clusterName)) { $coreOwner = [string]$g['Owner'] }
        }
        if ($coreOwner -ne '' -and -not (Test-ExSameName $coreOwner $computer)) {
            Stop-ExOperation 'wrong_server' ('this host is ' + $computer + ', a node of cluster ' + $clusterName +
                '; the cluster is run by ' + $coreOwner)
        }
        $isThisHost = $true
    }
    if (-not $isThisHost) {
        Stop-ExOperation 'wrong_server' ('this host is ' + $computer + ', not ' + $requested)
    }
}

if ($product -eq '') {
    Stop-ExOperation 'not_exchange' ('no Exchange Server installation found on ' + $computer +
        ' (no ExSetup.exe under HKLM\SOFTWARE\Microsoft\Exchange\Setup MsiInstallPath, no STORE.EXE of the MSExchangeIS service)')
}

# The cluster events and this node's build (see the cluster section above), read once the
# probe knows it answers for this host.
$clusterEvents = New-Object System.Collections.ArrayList
if ($clusterConfigured) {
    try { $clusterEvents = Get-ExClusterEvents $bootTime } catch { }
}
$nodeBuilds = @{}
if ($build -ne '') { $nodeBuilds[$computer] = $build }

# Which Exchange group this probe describes: the one named, else the one this node owns,
# else the first.
if ($null -eq $selectedGroup) {
    foreach ($g in $exchangeGroups) {
        if (Test-ExSameName $g['Owner'] $computer) { $selectedGroup = $g; break }
    }
}
if ($null -eq $selectedGroup -and $exchangeGroups.Count -gt 0) { $selectedGroup = $exchangeGroups[0] }

if ($null -ne $selectedGroup) {
    # Type: Exchange 2007 single copy cluster (SCC) keeps its databases on a shared "Physical
    # Disk" resource in the CMS group; cluster continuous replication (CCR) has none. (When the
    # Exchange snap-in answers below, its ClusteredStorageType replaces this guess.)
    # Exchange 2000/2003: active/active when there are as many EVSs as nodes, else
    # active/passive (N+1) [KB 328839]. Exchange 5.5: its own cluster model.
    $clusterType = ''
    if ($product -eq '2007') {
        if ($selectedGroup['HasDisk']) { $clusterType = 'scc' } else { $clusterType = 'ccr' }
    } elseif ($product -eq '5.5') {
        $clusterType = 'cluster-5.5'
    } else {
        if ($clusterNodes.Count -gt 1 -and $exchangeGroups.Count -ge $clusterNodes.Count) {
            $clusterType = 'evs-active-active'
        } else {
            $clusterType = 'evs-active-passive'
        }
    }
    $adVersions = @{}
    if ($product -eq '2000' -or $product -eq '2003') { $adVersions = Get-ExVirtualServerVersions $exchangeGroups }
    $groupFacts = New-Object System.Collections.ArrayList
    foreach ($g in $exchangeGroups) {
        $adVersion = ''
        $virtualKey = (Get-ExShortName ([string]$g['Virtual'])).ToLowerInvariant()
        if ($adVersions.ContainsKey($virtualKey)) { $adVersion = [string]$adVersions[$virtualKey] }
        [void]$groupFacts.Add(@{
            'name'             = [string]$g['Virtual']
            'owner'            = [string]$g['Owner']
            'state'            = [string]$g['State']
            'resources'        = $g['Resources']
            'failover_blocked' = ($g['Threshold'] -eq 0)
            'preferred_owners' = $g['Preferred']
            'ad_version'       = $adVersion
        })
    }
    $clusterFacts = @{
        'name'                    = [string]$selectedGroup['Virtual']
        'cluster_name'            = $clusterName
        'groups'                  = $groupFacts
        'type'                    = $clusterType
        'nodes'                   = $clusterNodes
        'active_node'             = [string]$selectedGroup['Owner']
        'active'                  = (Test-ExSameName $selectedGroup['Owner'] $computer)
        'cluster_service_running' = $true
        'group_state'             = [string]$selectedGroup['State']
        'resources'               = $selectedGroup['Resources']
        'failover_blocked'        = ($selectedGroup['Threshold'] -eq 0)
        'node_builds'             = $nodeBuilds
        'events'                  = $clusterEvents
    }
} elseif ($clusterConfigured -and (-not $clusterRunning -or -not $clusterWmiOk)) {
    # A cluster node whose cluster service is stopped (as the SP procedure requires,
    # [KB 328839]) cannot be asked: the cluster WMI provider and the HKLM\Cluster hive answer
    # only while the service runs. Report what is known: a cluster node, service state.
    $clusterFacts = @{
        'name'                    = ''
        'cluster_name'            = ''
        'groups'                  = (New-Object System.Collections.ArrayList)
        'type'                    = ''
        'nodes'                   = $clusterNodes
        'active_node'             = ''
        'active'                  = $false
        'cluster_service_running' = $clusterRunning
        'group_state'             = ''
        'resources'               = (New-Object System.Collections.ArrayList)
        'failover_blocked'        = $false
        'node_builds'             = $nodeBuilds
        'events'                  = $clusterEvents
    }
}

# ---------------------------------------------------------------------------------------
# Exchange 2007 roles and setup state ["Service Packs fuer Exchange 2007"].
# HKLM\SOFTWARE\Microsoft\Exchange\v8.0\<RoleKey>: an installed role has ConfiguredVersion;
# an Action or Watermark value there means a setup was interrupted (or runs now) and setup
# refuses to start again. GatewayRole is the Edge Transport role.

$roles = New-Object System.Collections.ArrayList
$watermarks = New-Object System.Collections.ArrayList
$v8 = 'SOFTWARE\Microsoft\Exchange\v8.0'
$roleKeys = @(
    @('ClientAccessRole', 'ClientAccess'),
    @('HubTransportRole', 'HubTransport'),
    @('MailboxRole', 'Mailbox'),
    @('UnifiedMessagingRole', 'UnifiedMessaging'),
    @('GatewayRole', 'Edge')
)
$staleCms = $false
if ($product -eq '2007') {
    foreach ($rk in $roleKeys) {
        if (Test-ExRegValue $HKLM ($v8 + '\' + $rk[0]) 'ConfiguredVersion') { [void]$roles.Add($rk[1]) }
    }
    # Every subkey of v8.0, not only the five roles (AdminTools has one too).
    foreach ($sub in (Get-ExRegSubKeyNames $HKLM $v8)) {
        $path = $v8 + '\' + $sub
        $hasAction = Test-ExRegValue $HKLM $path 'Action'
        $hasWatermark = Test-ExRegValue $HKLM $path 'Watermark'
        if (-not ($hasAction -or $hasWatermark)) { continue }
        if (Test-ExSameName $sub 'ClusteredMailboxServer') {
            # HKLM\SOFTWARE\Microsoft\Exchange\v8.0\ClusteredMailboxServer with Action or
            # Watermark: a clustered mailbox server setup (/upgradecms, /newcms) that did not
            # finish (Exchange Best Practices Analyzer rule "Possible CMS Setup Failure",
            # TechNet cc540457). Reported as stale_cms_key, not as a role watermark.
            $staleCms = $true
            continue
        }
        $roleName = $sub
        foreach ($rk in $roleKeys) { if (Test-ExSameName $sub $rk[0]) { $roleName = $rk[1] } }
        [void]$watermarks.Add(@{
            'role'      = $roleName
            'action'    = [string](Get-ExRegValue $HKLM $path 'Action' '')
            'watermark' = [string](Get-ExRegValue $HKLM $path 'Watermark' '')
        })
    }
}

# Exchange 2000/2003 front-end or back-end [KB 328839]: the server object's
# msExchServerRole attribute in the Active Directory configuration partition (Exchange 2003
# SDK, "ms-Exch-Server-Role Attribute": 1 = front-end, else back-end). Read with ADSI; the
# connecting account may be unable to reach a domain controller from here (no delegation):
# then the role stays unknown (empty list).
if ($product -eq '2000' -or $product -eq '2003') {
    try {
        $adName = $computer
        if ($null -ne $selectedGroup) { $adName = Get-ExShortName ([string]$selectedGroup['Virtual']) }
        # The name is the computer's own (or its EVS's), not a parameter.
        $searcher = New-ExServerSearcher ('(cn=' + (ConvertTo-ExLdapValue $adName) + ')') @('msExchServerRole')
        $found = $searcher.FindOne()
        if ($null -ne $found) {
            $serverRole = 0
            if ($found.Properties['msexchserverrole'].Count -gt 0) { $serverRole = [int]$found.Properties['msexchserverrole'][0] }
            if ($serverRole -eq 1) { [void]$roles.Add('FrontEnd') } else { [void]$roles.Add('BackEnd') }
        }
    } catch { }
}

# A running Exchange setup right now: ExSetup.exe / ExSetupUI.exe (2007) or a
# process named setup (Setup.com / setup.exe). Conservative: another product's "setup" also
# counts, which only delays servicing.
$setupRunning = $false
try {
    $setupProcesses = @(Get-Process -Name 'ExSetup', 'ExSetupUI', 'setup' -ErrorAction SilentlyContinue)
    $setupRunning = ($setupProcesses.Count -gt 0)
} catch { }

# ---------------------------------------------------------------------------------------
# Installed update rollups, interim updates and hotfixes ["How to install the latest Service Pack or Update Rollup for Exchange 2007", KB 328839].
# 1. Exchange 2007 patches (.msp) under the Windows Installer data of its product
#    {24B2C164-DE66-44FE-B468-A46D9D5E6B31} (packed: 461C2B4266EDEF444B864AD6D9E5B613):
#    HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData\S-1-5-18\Products\
#    461C2B4266EDEF444B864AD6D9E5B613\Patches\<packed patch code>, value DisplayName,
#    "Update Rollup N for Exchange Server 2007 [Service Pack M] (KBnnnnnn)" or
#    "Interim Update for Exchange Server 2007 (KBnnnnnn)". The key name is the patch code.
# 2. Add/Remove Programs entries, HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*,
#    whose DisplayName or ParentDisplayName names Exchange and carries a KB number
#    (Exchange 5.5/2000/2003 hotfixes and post-SP rollups register there).
# 3. Hotfix records under HKLM\SOFTWARE\Microsoft\Updates\<product naming Exchange>\<level>\KBnnnnnn.
# Rollups and the rest are told apart by the words "Update Rollup"; one entry per KB.

$rollups = New-Object System.Collections.ArrayList
$interims = New-Object System.Collections.ArrayList
$seenKB = @{}

function Add-ExUpdate {
    param([string]$DisplayName, [string]$PatchCode)
    $kb = Get-ExKB $DisplayName
    if ($kb -eq '' -or $seenKB.ContainsKey($kb)) { return }
    $seenKB[$kb] = $true
    $entry = @{ 'kb' = $kb; 'display_name' = $DisplayName; 'patch_code' = $PatchCode }
    if ($DisplayName -like '*Update Rollup*') { [void]$rollups.Add($entry) } else { [void]$interims.Add($entry) }
}

$patchesPath = 'SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData\S-1-5-18\Products\461C2B4266EDEF444B864AD6D9E5B613\Patches'
foreach ($packed in (Get-ExRegSubKeyNames $HKLM $patchesPath)) {
    $name = [string](Get-ExRegValue $HKLM ($patchesPath + '\' + $packed) 'DisplayName' '')
    if ($name -ne '') { Add-ExUpdate $name (ConvertFrom-ExPackedGuid $packed) }
}

$uninstallPath = 'SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
$uninstallEntries = New-Object System.Collections.ArrayList
foreach ($sub in (Get-ExRegSubKeyNames $HKLM $uninstallPath)) {
    $path = $uninstallPath + '\' + $sub
    [void]$uninstallEntries.Add(@{
        'Key'    = $sub
        'Name'   = [string](Get-ExRegValue $HKLM $path 'DisplayName' '')
        'Parent' = [string](Get-ExRegValue $HKLM $path 'ParentDisplayName' '')
    })
}
foreach ($u in $uninstallEntries) {
    if ($u['Name'] -notlike '*Exchange*' -and $u['Parent'] -notlike '*Exchange*') { continue }
    # A patch's entry may be named <ProductCode>_<PatchCode>; then keep the patch code.
    $code = ''
    $m = [regex]::Match($u['Key'], '_(\{[0-9A-Fa-f-]{36}\})$')
    if ($m.Success) { $code = $m.Groups[1].Value.ToUpperInvariant() }
    Add-ExUpdate $u['Name'] $code
}

$updatesPath = 'SOFTWARE\Microsoft\Updates'
foreach ($productKey in (Get-ExRegSubKeyNames $HKLM $updatesPath)) {
    if ($productKey -notlike '*Exchange*') { continue }
    foreach ($level in (Get-ExRegSubKeyNames $HKLM ($updatesPath + '\' + $productKey))) {
        foreach ($kbKey in (Get-ExRegSubKeyNames $HKLM ($updatesPath + '\' + $productKey + '\' + $level))) {
            $path = $updatesPath + '\' + $productKey + '\' + $level + '\' + $kbKey
            $description = [string](Get-ExRegValue $HKLM $path 'Description' '')
            if ($description -eq '') { $description = $productKey + ' ' + $kbKey }
            if ((Get-ExKB $description) -eq '') { $description = $description + ' (' + $kbKey + ')' }
            Add-ExUpdate $description ''
        }
    }
}

# ---------------------------------------------------------------------------------------
# Pending reboot, three sources:
# - HKLM\SYSTEM\CurrentControlSet\Control\Session Manager, PendingFileRenameOperations
#   (MoveFileEx with MOVEFILE_DELAY_UNTIL_REBOOT, Microsoft documentation of MoveFileEx);
# - HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending
#   (Windows Server 2008 and later servicing stack);
# - HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired.

$pendingReboot = New-Object System.Collections.ArrayList
$renames = Get-ExRegValue $HKLM 'SYSTEM\CurrentControlSet\Control\Session Manager' 'PendingFileRenameOperations' $null
if ($null -ne $renames) {
    $nonEmpty = $false
    foreach ($line in @($renames)) { if ([string]$line -ne '') { $nonEmpty = $true } }
    if ($nonEmpty) { [void]$pendingReboot.Add('PendingFileRenameOperations') }
}
if (Test-ExRegKey $HKLM 'SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
    [void]$pendingReboot.Add('CBS RebootPending')
}
if (Test-ExRegKey $HKLM 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') {
    [void]$pendingReboot.Add('WindowsUpdate RebootRequired')
}

# ---------------------------------------------------------------------------------------
# Prerequisites ["How to install the latest Service Pack or Update Rollup for Exchange 2007", "Changes to Exchange 2007 SP2 setup", "Service Packs fuer Exchange 2007"].

# .NET Framework 2.0: HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v2.0.50727, Install = 1
# when present, SP = service pack level (Microsoft KB 318785, "how to determine which .NET
# Framework versions and service packs are installed"). -1: not installed.
$dotNetPath = 'SOFTWARE\Microsoft\NET Framework Setup\NDP\v2.0.50727'
$dotNet20SP = -1
try {
    if ([int](Get-ExRegValue $HKLM $dotNetPath 'Install' 0) -eq 1) {
        $dotNet20SP = [int](Get-ExRegValue $HKLM $dotNetPath 'SP' 0)
    }
} catch { }

# Windows Installer: the version of %SystemRoot%\System32\msi.dll (4.5 needed by 2007 SP2).
$msiVersion = ''
try { $msiVersion = Get-ExFileVersion ([System.IO.Path]::Combine([string]$env:SystemRoot, 'System32\msi.dll')) } catch { }

# Windows hotfixes by KB number (Windows Server 2003, where a prerequisite is a hotfix):
# Test-ExWindowsHotfix looks for an Add/Remove Programs entry (Uninstall\<KB>), a hotfix
# record under HKLM\SOFTWARE\Microsoft\Updates\<Windows product>\<level>\<KB> (where the
# Windows Server 2003 hotfix installers record themselves), or a Win32_QuickFixEngineering
# row with that HotFixID (read once, only when a registry source has none).
$qfeCache = @{}
function Test-ExWindowsHotfix {
    param([string]$KB)
    if (Test-ExRegKey $HKLM ($uninstallPath + '\' + $KB)) { return $true }
    foreach ($productKey in (Get-ExRegSubKeyNames $HKLM $updatesPath)) {
        foreach ($level in (Get-ExRegSubKeyNames $HKLM ($updatesPath + '\' + $productKey))) {
            if (Test-ExRegKey $HKLM ($updatesPath + '\' + $productKey + '\' + $level + '\' + $KB)) { return $true }
        }
    }
    if (-not $qfeCache.ContainsKey('Ids')) {
        $ids = @{}
        try {
            foreach ($qfe in @(Get-WmiObject -Class Win32_QuickFixEngineering -ErrorAction Stop)) {
                $ids[([string]$qfe.HotFixID).Trim().ToUpperInvariant()] = $true
            }
        } catch { }
        $qfeCache['Ids'] = $ids
    }
    return $qfeCache['Ids'].ContainsKey($KB.ToUpperInvariant())
}
# Windows Server 2003 (5.2). Windows 2000 (5.0) is refused above: KB931836 and KB831464 are
# Windows Server 2003 updates and say nothing about it.
$windows2003 = $osVersion.StartsWith('5.2')

# Time-zone update KB931836 (Windows Server 2003). Windows Server 2008 and later (version
# 6.x) ship the 2007 DST rules, so it counts as present there. On 2003: Test-ExWindowsHotfix.
# Later cumulative time-zone updates that include it are not recognised (a false "missing"
# is possible, never a false "present").
$tzUpdate = $true
if ($windows2003) {
    $tzUpdate = $false
    try { $tzUpdate = Test-ExWindowsHotfix 'KB931836' } catch { }
}

# IIS 6.0 compression hotfix KB831464 ("IIS 6.0 compression corruption causes access
# violations"): step 1 of the Exchange 2003 cluster procedure on Windows Server 2003
# [KB 328839]. On 2003: Test-ExWindowsHotfix (hotfix record or
# Win32_QuickFixEngineering HotFixID KB831464). Windows Server 2008 and later run IIS 7, to
# which the hotfix does not apply: present there. Not recognised: a Windows service pack or
# later fix that contains it (whether Windows Server 2003 SP1 does is unverified), so a false
# "missing" is possible, never a false "present".
$iisHotfix831464 = $true
if ($windows2003) {
    $iisHotfix831464 = $false
    try { $iisHotfix831464 = Test-ExWindowsHotfix 'KB831464' } catch { }
}

# Single-label DNS domain (unsupported by Exchange 2007): Win32_ComputerSystem Domain is the
# DNS name of the AD domain when PartOfDomain is true.
$singleLabel = $false
try {
    $cs = @(Get-WmiObject -Class Win32_ComputerSystem -ErrorAction Stop)[0]
    if ($cs.PartOfDomain -and ([string]$cs.Domain) -ne '' -and ([string]$cs.Domain).IndexOf('.') -lt 0) { $singleLabel = $true }
} catch { }

# The connecting account is a local administrator: its token holds BUILTIN\Administrators.
$localAdmin = $false
try {
    $principal = New-Object System.Security.Principal.WindowsPrincipal([System.Security.Principal.WindowsIdentity]::GetCurrent())
    $localAdmin = $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
} catch { }

# ---------------------------------------------------------------------------------------
# Exchange 2007 management snap-in: database backups, internet-facing CAS, CCR or SCC.
# Microsoft.Exchange.Management.PowerShell.Admin is the Exchange 2007 shell's snap-in; it is
# present where the management tools are installed. Without it (or without a domain
# controller it can reach) these facts keep their defaults.
#
# Backups: Get-MailboxDatabase / Get-PublicFolderDatabase -Status,
# LastFullBackup, for databases on this server (or its CMS), named
# "<storage group>\<database>". NOT read: Exchange 5.5/2000/2003 database backups (only ESM
# shows them: the database header holds it, and eseutil /mh cannot read a mounted database),
# so the list is empty there. The system state is Get-ExSystemStateBackup's (below).
#
# Internet-facing ["How to install the latest Service Pack or Update Rollup for Exchange 2007", CAS-CAS proxy]: a Client Access server is
# internet-facing when its OWA virtual directory has an ExternalUrl (TechNet "Understanding
# Proxying and Redirection", Exchange 2007).

$databases = New-Object System.Collections.ArrayList
# databases_read: true once the backups were read, or when the server holds no databases
# (no Mailbox / back-end role); false tells the planner an empty list proves nothing.
$databasesRead = -not ($roles -contains 'Mailbox' -or $roles -contains 'BackEnd' -or $product -eq '5.5')
$internetFacing = $false
if ($product -eq '2007' -and ($roles -contains 'Mailbox' -or $roles -contains 'ClientAccess')) {
    $snapIn = $false
    try {
        if ($null -eq (Get-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.Admin' -ErrorAction SilentlyContinue)) {
            Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.Admin' -ErrorAction Stop
        }
        $snapIn = $true
    } catch { }
    $exServer = $computer
    if ($null -ne $clusterFacts -and [string]$clusterFacts['name'] -ne '') { $exServer = Get-ExShortName ([string]$clusterFacts['name']) }
    if ($snapIn -and $roles -contains 'Mailbox') {
        try {
            $dbs = @(Get-MailboxDatabase -Server $exServer -Status -ErrorAction Stop)
            try { $dbs += @(Get-PublicFolderDatabase -Server $exServer -Status -ErrorAction Stop) } catch { }
            foreach ($db in $dbs) {
                $dbName = [string]$db.Name
                if ([string]$db.StorageGroupName -ne '') { $dbName = [string]$db.StorageGroupName + '\' + $dbName }
                $lastFull = $null
                if ($null -ne $db.LastFullBackup) { $lastFull = [datetime]$db.LastFullBackup }
                [void]$databases.Add(@{ 'name' = $dbName; 'last_full' = $lastFull })
            }
            $databasesRead = $true
        } catch { }
        if ($null -ne $clusterFacts -and $product -eq '2007') {
            # Get-MailboxServer ClusteredStorageType: NonShared = CCR, Shared = SCC.
            try {
                $ms = @(Get-MailboxServer -Identity $exServer -ErrorAction Stop)[0]
                $storage = [string]$ms.ClusteredStorageType
                if ($storage -eq 'NonShared') {
                    $clusterFacts['type'] = 'ccr'
                } elseif ($storage -eq 'Shared') {
                    $clusterFacts['type'] = 'scc'
                }
            } catch { }
        }
    }
    if ($snapIn -and $roles -contains 'ClientAccess') {
        try {
            foreach ($vd in @(Get-OwaVirtualDirectory -Server $computer -ErrorAction Stop)) {
                if ($null -ne $vd.ExternalUrl -and [string]$vd.ExternalUrl -ne '') { $internetFacing = $true }
            }
        } catch { }
    }
}

# ---------------------------------------------------------------------------------------
# Last system-state backup. Windows keeps no record of its own; only the
# backup tool's traces can be read, and this reads two of them (what it cannot read, the
# user supplies from their backup software: internal/exchange/backups.go):
#
# - Windows 2000/2003, NTBackup: its backup report logs backup01.log ... backup10.log in the
#   profile of the account that ran the backup, ...\Local Settings\Application Data\
#   Microsoft\Windows NT\NTBackup\data (the profile folder NTBackup keeps its per-user data
#   in: KB 249120 "Windows 2000 Backup keeps a tombstone catalog", ...\NTBackup\Catalogs;
#   the report logs: KB 241162 "How to Save Backup Report Logs to an Alternate Location").
#   Every profile in HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList is
#   searched. A log counts when it names "System State" in a backup line and says
#   "Backup completed on"; its time is the log file's last write (NTBackup writes the
#   "completed" line at the end of the job). Our reading: the report text is localised, so
#   only an English NTBackup's logs are recognised, and the time is the job's end, not its
#   start. The Application-log events NTBackup writes (8000 at the start of a volume, 8001
#   at its end, 8019 at the end of the job, per Microsoft's Windows Server 2003 operations
#   guide task "Verify Previous Day's Backup Job") are NOT used: they do not say whether the
#   job included the system state.
# - Windows Server 2008, Windows Server Backup: `wbadmin get versions` lists each backup's
#   "Version identifier" in the fixed form MM/DD/YYYY-HH:MM (Microsoft's command reference
#   "wbadmin get versions" / "wbadmin get items", -version), which is UTC (our reading: in
#   published output it differs from the local "Backup time" by the time-zone offset), and
#   a "Can recover" line that names "System State" when the version can restore it. The
#   labels are localised too: English only. Its event log (Microsoft-Windows-Backup) is NOT
#   read: the event ids could not be verified from a public source.
#
# Returns @{ system_state = UTC DateTime or $null; system_state_source = 'ntbackup_log' |
# 'wbadmin' | '' } (exchange.BackupFacts' fields; the sources are exchange.SystemStateFrom*).
function Get-ExSystemStateBackup {
    param([string]$OSVersion)
    $result = @{ 'system_state' = $null; 'system_state_source' = '' }
    $major = 0
    if (-not [int]::TryParse(($OSVersion -split '\.')[0], [ref]$major)) { return $result }
    if ($major -ge 6) {
        $lines = @()
        try { $lines = @(& wbadmin.exe get versions 2>$null) } catch { return $result }
        $version = $null
        foreach ($line in $lines) {
            $text = [string]$line
            $m = [regex]::Match($text, '^\s*Version identifier:\s*(\d\d/\d\d/\d\d\d\d-\d\d:\d\d)\s*$')
            if ($m.Success) {
                $version = $null
                $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal -bor [System.Globalization.DateTimeStyles]::AdjustToUniversal
                $parsed = [datetime]::MinValue
                if ([datetime]::TryParseExact($m.Groups[1].Value, 'MM/dd/yyyy-HH:mm', $ExInvariant, $styles, [ref]$parsed)) { $version = $parsed }
                continue
            }
            if ($null -ne $version -and $text -match '^\s*Can recover:.*System State') {
                if ($null -eq $result['system_state'] -or $version -gt $result['system_state']) { $result['system_state'] = $version; $result['system_state_source'] = 'wbadmin' }
                $version = $null
            }
        }
        return $result
    }
    $profileList = 'SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList'
    foreach ($sid in (Get-ExRegSubKeyNames $HKLM $profileList)) {
        $profilePath = [string](Get-ExRegValue $HKLM ($profileList + '\' + $sid) 'ProfileImagePath' '')
        if ($profilePath -eq '') { continue }
        $dataDir = [System.IO.Path]::Combine([Environment]::ExpandEnvironmentVariables($profilePath),
            'Local Settings\Application Data\Microsoft\Windows NT\NTBackup\data')
        try {
            if (-not [System.IO.Directory]::Exists($dataDir)) { continue }
            foreach ($log in [System.IO.Directory]::GetFiles($dataDir, 'backup*.log')) {
                # NTBackup writes its report logs in UTF-16 (Unicode); the encoding is detected
                # from the byte-order mark, Unicode when there is none.
                $text = [System.IO.File]::ReadAllText($log, [System.Text.Encoding]::Unicode)
                if ($text -match 'of "System State"' -and $text -match 'Backup completed on') {
                    $written = [System.IO.File]::GetLastWriteTimeUtc($log)
                    if ($null -eq $result['system_state'] -or $written -gt $result['system_state']) { $result['system_state'] = $written; $result['system_state_source'] = 'ntbackup_log' }
                }
            }
        } catch { }
    }
    return $result
}

$systemStateBackup = @{ 'system_state' = $null; 'system_state_source' = '' }
try { $systemStateBackup = Get-ExSystemStateBackup $osVersion } catch { }

# ---------------------------------------------------------------------------------------
# Services: every Exchange service (name MSExchange*, or display name
# "Microsoft Exchange ...", plus the 2000/2003 routing engine RESvc, POP3Svc, IMAP4Svc and the
# 2007 search msftesql-Exchange) and the IIS services W3SVC, IISADMIN, SMTPSVC: the rule is
# Test-ExExchangeService in prelude.ps1, shared with exchange_services.

# Third-party services that hook into Exchange [KB 328839, "Service Packs fuer Exchange 2007"]: a
# conservative list of well-known service NAMES (not display names, which are localised),
# matched with -like. Anything not listed is not reported.
#   backup agents: Symantec/Veritas Backup Exec (BackupExec*), NetBackup client (bpinetd,
#     NetBackup*), CommVault (GxCVD*, GxClMgrS*), EMC NetWorker (nsrexecd), HP Data Protector
#     (OmniInet), System Center DPM agent (DPMRA), CA ARCserve agent (CASUniversalAgent);
#   file-level antivirus: McAfee (McShield, McTaskManager), Symantec (Symantec AntiVirus,
#     SepMasterService), Sophos (SavService), ESET (ekrn), Trend Micro OfficeScan (ntrtscan,
#     TmListen), Kaspersky (AVP*), Microsoft Forefront Client Security (MsMpSvc), Forefront
#     Security for Exchange Server (FSCController, FSCMonitor, FSEIMC, FSEMailPickup);
#   SNMP: SNMP, SNMPTRAP;
#   monitoring: System Center Operations Manager agent (HealthService), MOM 2005 agent (MOM),
#     NetIQ AppManager (NetIQmc), NSClient++ (NSClientpp, nscp), BMC PATROL (PatrolAgent),
#     Zabbix (Zabbix Agent).
$thirdPartyPatterns = @(
    'BackupExec*', 'bpinetd', 'NetBackup*', 'GxCVD*', 'GxClMgrS*', 'nsrexecd', 'OmniInet', 'DPMRA', 'CASUniversalAgent',
    'McShield', 'McTaskManager', 'Symantec AntiVirus', 'SepMasterService', 'SavService', 'ekrn', 'ntrtscan', 'TmListen',
    'AVP*', 'MsMpSvc', 'FSCController', 'FSCMonitor', 'FSEIMC', 'FSEMailPickup',
    'SNMP', 'SNMPTRAP',
    'HealthService', 'MOM', 'NetIQmc', 'NSClientpp', 'nscp', 'PatrolAgent', 'Zabbix Agent'
)

$services = New-Object System.Collections.ArrayList
$thirdParty = New-Object System.Collections.ArrayList
# @(...): in PowerShell 2.0 "foreach" over $null runs its body once.
foreach ($s in @($allServices | Sort-Object -Property Name)) {
    $sName = [string]$s.Name
    if (Test-ExExchangeService $s) {
        [void]$services.Add((New-ExServiceFacts $s))
        continue
    }
    foreach ($p in $thirdPartyPatterns) {
        if ($sName -like $p) {
            [void]$thirdParty.Add((New-ExServiceFacts $s))
            break
        }
    }
}

# Every other Windows service, by name, state and start mode (exchange.Facts OtherServices):
# the list above is a hint for the default of stop_services, not a gate [issue 9]. Seed 004
# stops a virus scanner (ScanMail) that no list here names; a service the user names in
# stop_services is found among these, and one found nowhere is refused at plan time. A
# hundred-odd names and states from the Win32_Service read above: no further query.
function Get-ExOtherServices {
    param($All, $Listed)
    $seen = @{}
    foreach ($list in $Listed) {
        foreach ($x in $list) { $seen[([string]$x['name']).ToLowerInvariant()] = $true }
    }
    $other = New-Object System.Collections.ArrayList
    foreach ($s in @($All | Sort-Object -Property Name)) {
        if ($seen.ContainsKey(([string]$s.Name).ToLowerInvariant())) { continue }
        [void]$other.Add((New-ExServiceFacts $s))
    }
    return ,$other
}
$otherServices = New-Object System.Collections.ArrayList
try { $otherServices = Get-ExOtherServices $allServices @($services, $thirdParty) } catch { }

# ---------------------------------------------------------------------------------------
# What the pre-checks around an install read (exchange.ProcedureFacts, rules_procedures.go):
# - forefront: Add/Remove Programs entries whose DisplayName contains "Forefront Security",
#   with DisplayVersion ["Service Packs fuer Exchange 2007": update or uninstall Forefront before Exchange 2007 SP1];
# - domain: the primary DNS suffix; receive_connectors: Get-ReceiveConnector -Server on a
#   2007 Hub Transport or Edge server ["Service Packs fuer Exchange 2007": a connector named like the domain];
# - event_log_levels: Get-EventLogLevel -Server, the categories not at Lowest ["Changes to Exchange 2007 SP2 setup":
#   every rollup resets the diagnostic-logging entries];
# - installer_processes: processes named update or xcopy [KB 328839].
# Each read fails soft; a list that could not be read says so (*_read = false).
function Get-ExProcedureFacts {
    param($UninstallEntries, [string]$Domain, [string]$Product, $Roles, [string]$Computer)
    $result = @{
        'forefront'               = (New-Object System.Collections.ArrayList)
        'domain'                  = $Domain
        'receive_connectors'      = (New-Object System.Collections.ArrayList)
        'receive_connectors_read' = $false
        'event_log_levels'        = (New-Object System.Collections.ArrayList)
        'event_log_levels_read'   = $false
        'installer_processes'     = (New-Object System.Collections.ArrayList)
    }
    foreach ($u in $UninstallEntries) {
        if ($u['Name'] -like '*Forefront Security*') {
            $version = [string](Get-ExRegValue $HKLM ('SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\' + $u['Key']) 'DisplayVersion' '')
            [void]$result['forefront'].Add(@{ 'name' = $u['Name']; 'version' = $version })
        }
    }
    try {
        foreach ($p in @(Get-Process -Name 'update', 'xcopy' -ErrorAction SilentlyContinue)) {
            [void]$result['installer_processes'].Add([string]$p.ProcessName + '.exe')
        }
    } catch { }
    if ($Product -ne '2007') { return $result }
    $snapIn = $false
    try {
        if ($null -eq (Get-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.Admin' -ErrorAction SilentlyContinue)) {
            Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.Admin' -ErrorAction Stop
        }
        $snapIn = $true
    } catch { }
    if (-not $snapIn) { return $result }
    if ($Roles -contains 'HubTransport' -or $Roles -contains 'Edge') {
        try {
            foreach ($rc in @(Get-ReceiveConnector -Server $Computer -ErrorAction Stop)) { [void]$result['receive_connectors'].Add([string]$rc.Name) }
            $result['receive_connectors_read'] = $true
        } catch { }
    }
    try {
        foreach ($l in @(Get-EventLogLevel -Server $Computer -ErrorAction Stop)) {
            if ([string]$l.EventLevel -ne 'Lowest') {
                [void]$result['event_log_levels'].Add(@{ 'identity' = [string]$l.Identity; 'level' = [string]$l.EventLevel })
            }
        }
        $result['event_log_levels_read'] = $true
    } catch { }
    return $result
}
$procedure = @{}
try { $procedure = Get-ExProcedureFacts $uninstallEntries $dnsSuffix $product $roles $computer } catch { }

# ---------------------------------------------------------------------------------------
# UM language packs ["Service Packs fuer Exchange 2007"] (Exchange 2007 Unified Messaging role).
# Heuristic, not a documented interface: a language pack is an Add/Remove Programs entry
# whose DisplayName mentions both "Unified Messaging" and "Language Pack" and carries a
# culture name (ll-CC), or a culture-named folder under <install>\UnifiedMessaging\Prompts
# (each pack installs its prompts there). en-US is left out: it is installed with the UM
# role itself and cannot be removed with /RemoveUmLanguagePack.

$umPacks = New-Object System.Collections.ArrayList
if ($roles -contains 'UnifiedMessaging') {
    $cultures = @{}
    $cultureRe = '\b([a-z]{2,3}-[A-Z]{2,4})\b'
    foreach ($u in $uninstallEntries) {
        if ($u['Name'] -like '*Unified Messaging*' -and $u['Name'] -like '*Language Pack*') {
            $m = [regex]::Match($u['Name'], $cultureRe)
            if ($m.Success) { $cultures[$m.Groups[1].Value] = $true }
        }
    }
    try {
        $prompts = [System.IO.Path]::Combine($installPath, 'UnifiedMessaging\Prompts')
        if ([System.IO.Directory]::Exists($prompts)) {
            foreach ($dir in [System.IO.Directory]::GetDirectories($prompts)) {
                $leaf = [System.IO.Path]::GetFileName($dir)
                if ($leaf -match '^[A-Za-z]{2,3}-[A-Za-z]{2,4}$') { $cultures[$leaf] = $true }
            }
        }
    } catch { }
    $seenCulture = @{}
    foreach ($c in @($cultures.Keys | Sort-Object)) {
        $lower = $c.ToLowerInvariant()
        if ($lower -eq 'en-us' -or $seenCulture.ContainsKey($lower)) { continue }
        $seenCulture[$lower] = $true
        $parts = $c.Split('-')
        [void]$umPacks.Add($parts[0].ToLowerInvariant() + '-' + $parts[1].ToUpperInvariant())
    }
}

# ---------------------------------------------------------------------------------------
# OWA Logon.aspx customised ["How to install the latest Service Pack or Update Rollup for Exchange 2007"]. Heuristic: Windows Installer stamps
# each file it installs with the file's build time, so an administrator's edit shows as a
# write time newer than every other file setup put in the same folder
# (<install>\ClientAccess\Owa\auth, Exchange 2007 Client Access). Customised = logon.aspx
# written more than 24 hours after the newest other file there. Misses an edit older than
# the last update that rewrote the folder. Exchange 2000/2003 OWA is not read (false).

$owaCustomised = $false
if ($product -eq '2007' -and $roles -contains 'ClientAccess') {
    try {
        $authDir = [System.IO.Path]::Combine($installPath, 'ClientAccess\Owa\auth')
        $logon = [System.IO.Path]::Combine($authDir, 'logon.aspx')
        if ([System.IO.File]::Exists($logon)) {
            $logonTime = [System.IO.File]::GetLastWriteTimeUtc($logon)
            $newestOther = [datetime]::MinValue
            foreach ($f in [System.IO.Directory]::GetFiles($authDir)) {
                if (Test-ExSameName ([System.IO.Path]::GetFileName($f)) 'logon.aspx') { continue }
                $t = [System.IO.File]::GetLastWriteTimeUtc($f)
                if ($t -gt $newestOther) { $newestOther = $t }
            }
            if ($newestOther -ne [datetime]::MinValue -and $logonTime -gt $newestOther.AddHours(24)) { $owaCustomised = $true }
        }
    } catch { }
}

# ---------------------------------------------------------------------------------------
# Publisher certificate revocation check ["How to install the latest Service Pack or Update Rollup for Exchange 2007"]: the connecting account's
# HKCU\Software\Microsoft\Windows\CurrentVersion\WinTrust\Trust Providers\Software Publishing,
# DWORD State: 0x23c00 check on (also the default when absent), 0x23e00 check off (bit 0x200).
# Which hive the installer sees when it runs as another account is unverified.

$revocationCheck = $true
try {
    $wintrustState = [int](Get-ExRegValue $HKCU 'Software\Microsoft\Windows\CurrentVersion\WinTrust\Trust Providers\Software Publishing' 'State' 0x23c00)
    $revocationCheck = (($wintrustState -band 0x200) -eq 0)
} catch { }

# ---------------------------------------------------------------------------------------
# Internet access ["How to install the latest Service Pack or Update Rollup for Exchange 2007"]: setup fetches Microsoft's code-signing CRL.
# Bounded check, at most about 8 seconds: resolve crl.microsoft.com (3 s), then ask for
# http://crl.microsoft.com/pki/crl/products/CodeSignPCA.crl with a HEAD request (5 s) through
# the account's proxy settings. Reached = any answer below 500 except 407 (a proxy that
# refuses or cannot forward does not count).

$internetAccess = $false
try {
    $crlHost = 'crl.microsoft.com'
    $async = [System.Net.Dns]::BeginGetHostEntry($crlHost, $null, $null)
    if ($async.AsyncWaitHandle.WaitOne(3000, $false)) {
        $entry = [System.Net.Dns]::EndGetHostEntry($async)
        if ($entry.AddressList.Length -gt 0) {
            $request = [System.Net.WebRequest]::Create('http://crl.microsoft.com/pki/crl/products/CodeSignPCA.crl')
            $request.Method = 'HEAD'
            $request.Timeout = 5000
            $response = $null
            try {
                $response = $request.GetResponse()
            } catch {
                # PowerShell wraps the WebException; an HTTP error still carries a response.
                $ex = $_.Exception
                while ($null -ne $ex) {
                    if ($ex -is [System.Net.WebException] -and $null -ne $ex.Response) { $response = $ex.Response; break }
                    $ex = $ex.InnerException
                }
            }
            if ($null -ne $response) {
                $status = [int]$response.StatusCode
                $response.Close()
                if ($status -lt 500 -and $status -ne 407) { $internetAccess = $true }
            }
        }
    }
} catch { }

# ---------------------------------------------------------------------------------------
# Enable Remote Streaming Backup ["Service Packs fuer Exchange 2007"]: DWORD in
# HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem, 1 = on (CCR reseeding
# needs it; SP1 resets it). null when the value is absent.

$remoteStreaming = $null
$rsb = Get-ExRegValue $HKLM 'SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem' 'Enable Remote Streaming Backup' $null
if ($null -ne $rsb) {
    try { $remoteStreaming = ([int]$rsb -ne 0) } catch { $remoteStreaming = $null }
}

# ---------------------------------------------------------------------------------------
# This provider's own state on the server (docs/architecture.md, "Long-running work"):
# the job records of detached installer runs, HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Jobs\<id>
# (values Action, State, ExitCode, LogPath, Error, Started, Finished, RebootRequired), and
# the servicing lock, HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Lock (Owner, Acquired,
# Expires), null when free (no lock, or an expired one). Read-ExJob and Read-ExLock
# (prelude.ps1) write them as exchange.Job and exchange.Lock; a running job whose process is
# gone reads as failed.

$jobs = New-Object System.Collections.ArrayList
try { $jobs = Get-ExJobs } catch { }
# An expired lock is free: reported as none (lock.ps1 lets anyone take it).
$lock = $null
try {
    $lock = Read-ExLock
    if ($null -ne $lock -and ($null -eq $lock['expires'] -or $lock['expires'] -le [datetime]::UtcNow)) { $lock = $null }
} catch { }

# Leftovers of an interrupted apply (exchange.Leftovers): services the service operation
# stopped and did not start again, and the revocation check it turned off, from
# HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Leftovers; customisations moved aside and not
# restored: the saved copy of the OWA logon page exists (customizations.ps1).
$stoppedServices = New-Object System.Collections.ArrayList
try { $stoppedServices = Get-ExStoppedServices } catch { }
$revocationOff = $false
try { $revocationOff = Get-ExLeftoverFlag 'RevocationCheckOff' } catch { }
# firewall.ps1 records FirewallStarted when it starts a stopped Windows Firewall service;
# restore_firewall removes it.
$firewallStarted = $false
try { $firewallStarted = Get-ExLeftoverFlag 'FirewallStarted' } catch { }
# front_end.ps1 records FrontEndOffline when it takes a front-end out of service; online
# removes it.
$frontEndOffline = $false
try { $frontEndOffline = Get-ExLeftoverFlag 'FrontEndOffline' } catch { }
# setup_watermark.ps1 records each setup key whose Action/Watermark values it removes;
# job_clear removes the record.
$watermarksRemoved = New-Object System.Collections.ArrayList
try { $watermarksRemoved = Get-ExLeftoverList 'SetupWatermarksRemoved' } catch { }
$savedCustomizations = $false
try { $savedCustomizations = [System.IO.File]::Exists((Get-ExSavedLogonPath)) } catch { }

# ---------------------------------------------------------------------------------------
# The result: keys are exactly the json tags of exchange.Facts and its nested structs.

$facts = @{
    'server'               = $computer
    'fqdn'                 = $fqdn
    'product'              = $product
    'build'                = $build
    'boot_time'            = $bootTime
    'os'                   = @{
        'caption'      = $osCaption
        'version'      = $osVersion
        'service_pack' = $osServicePack
    }
    'prerequisites'        = @{
        'dotnet20_service_pack'   = $dotNet20SP
        'windows_installer'       = $msiVersion
        'time_zone_update_931836' = $tzUpdate
        'fqdn_set'                = ($dnsSuffix -ne '')
        'single_label_domain'     = $singleLabel
        'local_administrator'     = $localAdmin
        'iis_compression_hotfix_831464' = $iisHotfix831464
    }
    'update_rollups'       = $rollups
    'interim_updates'      = $interims
    'roles'                = $roles
    'internet_facing'      = $internetFacing
    'cluster'              = $clusterFacts
    'setup'                = @{
        'watermarks'    = $watermarks
        'running'       = $setupRunning
        'stale_cms_key' = $staleCms
    }
    'pending_reboot'       = $pendingReboot
    'backups'              = @{
        'databases'      = $databases
        'databases_read' = $databasesRead
        'system_state'   = $systemStateBackup['system_state']
        'system_state_source' = $systemStateBackup['system_state_source']
    }
    'services'             = $services
    'third_party_services' = $thirdParty
    'other_services'       = $otherServices
    'um_language_packs'    = $umPacks
    'owa_logon_customized' = $owaCustomised
    'revocation_check'     = $revocationCheck
    'internet_access'      = $internetAccess
    'remote_streaming_backup' = $remoteStreaming
    'procedure'            = $procedure
    'jobs'                 = $jobs
    'lock'                 = $lock
    'leftovers'            = @{
        'stopped_services'     = $stoppedServices
        'saved_customizations' = $savedCustomizations
        'revocation_check_off' = $revocationOff
        'firewall_started'     = $firewallStarted
        'front_end_offline'    = $frontEndOffline
        'setup_watermarks_removed' = $watermarksRemoved
    }
}

Write-Result $ExOperation $facts
