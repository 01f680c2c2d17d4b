# discover: lists the Exchange servers of the organisation as the server it runs on sees them
# in Active Directory (wire.OpDiscover), so that a user can name one server and get the
# whole organisation.
#
# Parameters: $Param_Server: '' for none, else also probe this host as probe.ps1 does with
# that name (its $Param_Server), in this process (section 0 below).
# Result: wire.DiscoverResult: the organisation's name and one wire.DiscoveredServer per
# Exchange server object, sorted by name ignoring case (ordinal, as the simulator sorts), and
# the probe's answer (wire.ProbeAnswer: its facts, or the fault it ended with) when asked.
# Faults: not_found (Active Directory holds no Exchange organisation), unavailable (Active
# Directory cannot be read from here: no domain controller answers, or the connecting account
# has no credentials for a second hop; the message tells the user to name the servers
# explicitly instead).
#
# Where Exchange keeps its servers: the configuration partition,
#   CN=<server>,CN=Servers,CN=<administrative group>,CN=Administrative Groups,
#   CN=<organisation>,CN=Microsoft Exchange,CN=Services,<configurationNamingContext>
# objects of category msExchExchangeServer. Read with System.DirectoryServices (ADSI), bound
# serverless, so the domain controller is the one this server's domain locates.
#
# Rules of this file:
# - PowerShell 2.0 only, ASCII only (see prelude.ps1). Read-only: nothing is written.
# - Every read of a server object fails soft: an attribute that is missing or unreadable
#   yields "" (or no roles) and the server is still listed. Only the two faults above end
#   the operation on purpose.
# - Result property names are lower case: ResultPropertyCollection stores its keys lower
#   case, and PowerShell's indexer on it compares them as written.
#
# Cannot be verified without a real Active Directory (the simulator answers discover from
# its fleet, not by running this file):
# - the exact serialNumber text of Exchange 5.5 and 2000 server objects (those of 2003 read
#   "Version 6.5 (Build 7638.2: Service Pack 2)", of 2007 "Version 8.1 (Build 30240.6)");
# - that every 2000/2003 server object carries msExchHomeRoutingGroup and every 2007 one
#   msExchServerSite;
# - which error a second hop without credentials raises (an "operations error" and LDAP
#   error 000004DC are expected, or no result at all: both read as unavailable here).

$ExOperation = 'discover'

# ---------------------------------------------------------------------------------------
# 0. The probe of this host, when asked: the server discovery goes through costs one
#    PowerShell process, not one for discover and one for probe. probe.ps1 is spliced in
#    below when the script is built (scripts.Body replaces the include line). It runs first,
#    in a child scope (& on a script block), so its variables and functions stay its own and
#    nothing of discover's is defined yet for it to trip over. For it, Write-Result and
#    Stop-ExOperation are redefined in Invoke-ExProbe's scope, which the body's calls find
#    first (PowerShell scopes are dynamic): its result or fault is kept instead of written,
#    and a fault ends the probe with a labelled break (which crosses script block and
#    function boundaries and is no error: no catch or trap sees it), not the script. An
#    error nobody caught is kept as the fault "unexpected". So a failing probe never fails
#    the discovery; the provider then probes the server on its own.

$ExProbeBody = {
# include: probe.ps1
}

# Assigned at script level too, so that the nested Write-Result and Stop-ExOperation read a
# variable that exists in every scope they can run in (Invoke-ExProbe's own shadows it).
$ExProbeState = $null

function Invoke-ExProbe {
    $ExProbeState = @{ 'Facts' = $null; 'Fault' = $null }
    function Write-Result {
        param([string]$Operation, $Value)
        $ExProbeState['Facts'] = $Value
    }
    function Stop-ExOperation {
        param([string]$Code, [string]$Message)
        $ExProbeState['Fault'] = @{ 'code' = $Code; 'message' = $Message }
        # The label as a string (label-expression: unary-expression, PowerShell Language
        # Specification 2.0, 8.5.1 The break statement), which the grammar check reads too.
        break 'ExProbe'
    }
    :ExProbe while ($true) {
        try {
            $null = & $ExProbeBody
        } catch {
            $message = 'unknown error'
            if ($null -ne $_ -and $null -ne $_.Exception) { $message = [string]$_.Exception.Message }
            $ExProbeState['Fault'] = @{ 'code' = 'unexpected'; 'message' = $message }
        }
        break
    }
    if ($null -eq $ExProbeState['Facts'] -and $null -eq $ExProbeState['Fault']) {
        $ExProbeState['Fault'] = @{ 'code' = 'unexpected'; 'message' = 'the probe ended without a result' }
    }
    return @{ 'facts' = $ExProbeState['Facts']; 'fault' = $ExProbeState['Fault'] }
}

$probeAnswer = $null
if ([string]$Param_Server -ne '') { $probeAnswer = Invoke-ExProbe }

$computer = [string]$env:COMPUTERNAME

# HRESULT of ERROR_DS_NO_SUCH_OBJECT (0x80072030) as .NET reports it (COMException.ErrorCode).
$ExNoSuchObject = -2147016656

# msExchCurrentServerRoles (Exchange 2007) is a bit mask: 2 Mailbox, 4 ClientAccess,
# 16 UnifiedMessaging, 32 HubTransport, 64 Edge. Sources: Exchange's own
# Microsoft.Exchange.Data.Directory.SystemConfiguration.ServerRole enum (the type of the
# Server object's CurrentServerRole property, which Exchange maps to msExchCurrentServerRoles);
# the LdapTools project's Exchange ServerRole flags (github.com/ldaptools/ldaptools,
# src/LdapTools/Enums/Exchange/ServerRole.php); the role table of TechNet bb123496 (EXCHG.80)
# as quoted by scripts that decode this attribute. Listed here in the order exchange.Facts
# spells roles (probe.ps1).
$ExRoleBits = @(
    @(4, 'ClientAccess'),
    @(32, 'HubTransport'),
    @(2, 'Mailbox'),
    @(16, 'UnifiedMessaging'),
    @(64, 'Edge')
)

$ExHint = 'name the servers explicitly (one resource or data source per server) instead of discovering them'

# ---------------------------------------------------------------------------------------
# Helpers.

# Get-ExHResult returns the HRESULT of the first COMException in an exception's chain
# (PowerShell wraps what ADSI throws), or 0.
function Get-ExHResult {
    param($Exception)
    $ex = $Exception
    while ($null -ne $ex) {
        if ($ex -is [System.Runtime.InteropServices.COMException]) { return $ex.ErrorCode }
        $ex = $ex.InnerException
    }
    return 0
}

# Get-ExReason: the text of a problem for people: a string as it is, or the message of the
# first COMException in an error record's chain with its HRESULT (and the LDAP server's
# extended message, which names e.g. a bind that never happened), else the innermost message.
function Get-ExReason {
    param($Problem)
    if ($Problem -is [System.String]) { return $Problem }
    $ex = $null
    if ($null -ne $Problem -and $null -ne $Problem.Exception) { $ex = $Problem.Exception }
    $text = 'unknown error'
    while ($null -ne $ex) {
        $text = ([string]$ex.Message).Trim()
        if ($ex -is [System.Runtime.InteropServices.COMException]) {
            $text = $text + ' (0x' + $ex.ErrorCode.ToString('X8', $ExInvariant) + ')'
            if ($ex -is [System.DirectoryServices.DirectoryServicesCOMException]) {
                $extended = ([string]$ex.ExtendedErrorMessage).Replace([string][char]0, ' ').Trim()
                if ($extended -ne '') { $text = $text + ' ' + $extended }
            }
            break
        }
        $ex = $ex.InnerException
    }
    return $text
}

# Stop-ExUnavailable ends the operation with the fault "unavailable": what could not be read,
# why, and what to do instead.
function Stop-ExUnavailable {
    param([string]$What, $Problem)
    Stop-ExOperation 'unavailable' ('cannot read Active Directory from ' + $computer + ' (' + $What + ': ' +
        (Get-ExReason $Problem) + '). No domain controller answers, or the account the provider connects as ' +
        'has no credentials for a second hop (WinRM with NTLM or Kerberos passes none on without CredSSP ' +
        'or delegation): ' + $ExHint)
}

# ConvertTo-ExAdsPath: the LDAP ADsPath of a distinguished name (ADSI needs "/" escaped).
function ConvertTo-ExAdsPath {
    param([string]$Dn)
    return ('LDAP://' + $Dn.Replace('/', '\/'))
}

# Find-ExObjects searches under the ADsPath $Path and returns the results as a list
# (paged, so more than the server's page limit come back). ADSI searches when the results
# are enumerated: errors surface here, to the caller's catch.
function Find-ExObjects {
    param([string]$Path, [string]$Filter, [string]$Scope, [string[]]$Properties)
    $root = New-Object System.DirectoryServices.DirectoryEntry($Path)
    $searcher = New-Object System.DirectoryServices.DirectorySearcher($root)
    $searcher.Filter = $Filter
    $searcher.SearchScope = [System.DirectoryServices.SearchScope]$Scope
    $searcher.PageSize = 500
    $searcher.ClientTimeout = [TimeSpan]::FromSeconds(60)
    $searcher.ServerTimeLimit = [TimeSpan]::FromSeconds(60)
    foreach ($p in $Properties) { [void]$searcher.PropertiesToLoad.Add($p) }
    $list = New-Object System.Collections.ArrayList
    $results = $searcher.FindAll()
    try {
        foreach ($r in $results) { [void]$list.Add($r) }
    } finally {
        $results.Dispose()
        $searcher.Dispose()
        $root.Dispose()
    }
    return ,$list
}

# Get-ExAll returns every value of a search result's property (lower-case name), never
# failing: an unreadable property has no values.
function Get-ExAll {
    param($Result, [string]$Name)
    $list = New-Object System.Collections.ArrayList
    try {
        $values = $Result.Properties[$Name]
        if ($null -ne $values) {
            foreach ($v in $values) { [void]$list.Add($v) }
        }
    } catch { }
    return ,$list
}

# Get-ExFirst returns a property's first value, or $null.
function Get-ExFirst {
    param($Result, [string]$Name)
    $all = Get-ExAll $Result $Name
    if ($all.Count -gt 0) { return $all[0] }
    return $null
}

# Split-ExDn splits a distinguished name into its RDNs, each still escaped as written
# (RFC 4514: a backslash escapes the next character, or two hex digits escape one byte).
function Split-ExDn {
    param([string]$Dn)
    $parts = New-Object System.Collections.ArrayList
    $current = New-Object System.Text.StringBuilder
    $escaped = $false
    foreach ($ch in $Dn.ToCharArray()) {
        if ($escaped) {
            [void]$current.Append($ch)
            $escaped = $false
        } elseif ([int]$ch -eq 92) {
            [void]$current.Append($ch)
            $escaped = $true
        } elseif ([int]$ch -eq 44) {
            [void]$parts.Add($current.ToString())
            [void]$current.Remove(0, $current.Length)
        } else {
            [void]$current.Append($ch)
        }
    }
    if ($current.Length -gt 0) { [void]$parts.Add($current.ToString()) }
    return ,$parts
}

# ConvertFrom-ExRdnValue returns the value of one RDN ("CN=First Routing Group" ->
# "First Routing Group") with its escapes undone; hex-escaped bytes are UTF-8.
function ConvertFrom-ExRdnValue {
    param([string]$Rdn)
    $eq = $Rdn.IndexOf('=')
    if ($eq -lt 0) { return '' }
    $text = $Rdn.Substring($eq + 1)
    $out = New-Object System.Text.StringBuilder
    $bytes = New-Object System.IO.MemoryStream
    $i = 0
    while ($i -lt $text.Length) {
        $ch = $text[$i]
        if ([int]$ch -eq 92 -and ($i + 3) -le $text.Length -and $text.Substring($i + 1, 2) -match '^[0-9A-Fa-f]{2}$') {
            $bytes.WriteByte([System.Convert]::ToByte($text.Substring($i + 1, 2), 16))
            $i += 3
            continue
        }
        if ($bytes.Length -gt 0) {
            [void]$out.Append([System.Text.Encoding]::UTF8.GetString($bytes.ToArray()))
            $bytes.SetLength(0)
        }
        if ([int]$ch -eq 92 -and ($i + 1) -lt $text.Length) {
            [void]$out.Append($text[$i + 1])
            $i += 2
            continue
        }
        [void]$out.Append($ch)
        $i += 1
    }
    if ($bytes.Length -gt 0) { [void]$out.Append([System.Text.Encoding]::UTF8.GetString($bytes.ToArray())) }
    return $out.ToString()
}

# Get-ExOrganizationFromDn: the organisation a configuration object belongs to, the RDN
# just above CN=Microsoft Exchange,CN=Services in its distinguished name, or ''.
function Get-ExOrganizationFromDn {
    param([string]$Dn)
    $parts = Split-ExDn $Dn
    for ($k = 1; $k -lt ($parts.Count - 1); $k++) {
        if ((ConvertFrom-ExRdnValue $parts[$k]) -eq 'Microsoft Exchange' -and (ConvertFrom-ExRdnValue $parts[$k + 1]) -eq 'Services') {
            return (ConvertFrom-ExRdnValue $parts[$k - 1])
        }
    }
    return ''
}

# Get-ExProduct maps the version a server object records in serialNumber ("Version 8.1
# (Build 30240.6)", "Version 6.5 (Build 7638.2: Service Pack 2)"; what the Exchange cmdlets
# show as AdminDisplayVersion) to a product: 8.x 2007, 6.5 2003, 6.0 2000, 5.5 5.5; '' for
# none or another version (Exchange 2010 and later are listed, but not serviced).
function Get-ExProduct {
    param($Values)
    foreach ($v in $Values) {
        $m = [regex]::Match([string]$v, '^\s*Version\s+(\d+)\.(\d+)', [System.Text.RegularExpressions.RegexOptions]::IgnoreCase)
        if (-not $m.Success) { continue }
        $major = [int]$m.Groups[1].Value
        $minor = [int]$m.Groups[2].Value
        if ($major -eq 8) { return '2007' }
        if ($major -eq 6 -and $minor -eq 5) { return '2003' }
        if ($major -eq 6 -and $minor -eq 0) { return '2000' }
        if ($major -eq 5 -and $minor -eq 5) { return '5.5' }
        return ''
    }
    return ''
}

# ---------------------------------------------------------------------------------------
# 1. RootDSE: the configuration partition's name. Readable anonymously, so success here does
#    not yet prove the account can read anything else.

$configNC = ''
try {
    $rootDse = New-Object System.DirectoryServices.DirectoryEntry('LDAP://RootDSE')
    $configNC = [string]$rootDse.Properties['configurationNamingContext'].Value
} catch {
    Stop-ExUnavailable 'reading RootDSE' $_
}
if ($configNC -eq '') { Stop-ExUnavailable 'reading RootDSE' 'it names no configurationNamingContext' }

# 2. The Services container exists in every forest: reading it proves the account can read
#    the configuration partition, so that an empty answer below means "no Exchange", not
#    "not allowed to look".
$servicesDn = 'CN=Services,' + $configNC
$services = $null
try {
    $services = Find-ExObjects (ConvertTo-ExAdsPath $servicesDn) '(objectClass=*)' 'Base' @('distinguishedname')
} catch {
    Stop-ExUnavailable ('reading ' + $servicesDn) $_
}
if ($services.Count -eq 0) { Stop-ExUnavailable ('reading ' + $servicesDn) 'the directory returned nothing: the account cannot read the configuration partition' }

# 3. The organisation: the msExchOrganizationContainer below CN=Microsoft Exchange (one per
#    forest).
$exchangeDn = 'CN=Microsoft Exchange,' + $servicesDn
$notFound = 'Active Directory (configuration partition ' + $configNC + ') holds no Exchange organisation: ' +
    'no msExchOrganizationContainer under ' + $exchangeDn
$organizations = $null
try {
    $organizations = Find-ExObjects (ConvertTo-ExAdsPath $exchangeDn) '(objectClass=msExchOrganizationContainer)' 'OneLevel' @('name', 'distinguishedname')
} catch {
    if ((Get-ExHResult $_.Exception) -eq $ExNoSuchObject) { Stop-ExOperation 'not_found' $notFound }
    Stop-ExUnavailable ('reading ' + $exchangeDn) $_
}
if ($organizations.Count -eq 0) { Stop-ExOperation 'not_found' $notFound }
$orgResult = $organizations[0]
$orgDn = [string](Get-ExFirst $orgResult 'distinguishedname')
$organization = [string](Get-ExFirst $orgResult 'name')
if ($organization -eq '' -and $orgDn -ne '') {
    $orgParts = Split-ExDn $orgDn
    if ($orgParts.Count -gt 0) { $organization = ConvertFrom-ExRdnValue $orgParts[0] }
}

# 4. Its servers.
$found = $null
try {
    $found = Find-ExObjects ([string]$orgResult.Path) '(objectCategory=msExchExchangeServer)' 'Subtree' @(
        'name', 'distinguishedname', 'networkaddress', 'serialnumber', 'msexchcurrentserverroles',
        'msexchserverrole', 'msexchserversite', 'msexchhomeroutinggroup')
} catch {
    Stop-ExUnavailable ('searching ' + $orgDn + ' for Exchange servers') $_
}

$keys = New-Object System.Collections.ArrayList
$items = New-Object System.Collections.ArrayList
foreach ($r in $found) {
    $name = ''
    try { $name = [string](Get-ExFirst $r 'name') } catch { $name = '' }
    if ($name -eq '') { continue }

    # FQDN: networkAddress holds one value per protocol ("ncacn_ip_tcp:ex01.contoso.local",
    # "netbios:EX01", "ncacn_np:EX01", ...); the TCP one is the DNS name.
    $fqdn = ''
    try {
        foreach ($a in (Get-ExAll $r 'networkaddress')) {
            $text = [string]$a
            if ($text -like 'ncacn_ip_tcp:*') {
                $fqdn = $text.Substring(13).Trim()
                break
            }
        }
    } catch { $fqdn = '' }

    $product = ''
    try { $product = Get-ExProduct (Get-ExAll $r 'serialnumber') } catch { $product = '' }

    # Roles: 2007 from msExchCurrentServerRoles (bits above); 2000/2003 from msExchServerRole
    # (Exchange 2003 SDK, "ms-Exch-Server-Role Attribute": 1 = front-end, else back-end; an
    # absent value is 0, the default Exchange itself assumes), as probe.ps1 reads it. AD says
    # nothing of an Exchange 5.5 server's role: none.
    $roles = New-Object System.Collections.ArrayList
    try {
        if ($product -eq '2007') {
            $maskValue = Get-ExFirst $r 'msexchcurrentserverroles'
            if ($null -ne $maskValue) {
                $mask = [int]$maskValue
                foreach ($bit in $ExRoleBits) {
                    if (($mask -band $bit[0]) -ne 0) { [void]$roles.Add($bit[1]) }
                }
            }
        } elseif ($product -eq '2000' -or $product -eq '2003') {
            $legacyRole = Get-ExFirst $r 'msexchserverrole'
            if ($null -ne $legacyRole -and [int]$legacyRole -eq 1) { [void]$roles.Add('FrontEnd') } else { [void]$roles.Add('BackEnd') }
        }
    } catch {
        $roles = New-Object System.Collections.ArrayList
    }

    # Site: the Active Directory site a 2007 server records (msExchServerSite, the site
    # object's DN); for older servers their routing group (msExchHomeRoutingGroup, the
    # routing group object's DN). Its first RDN's value is the name.
    $site = ''
    try {
        $siteDn = [string](Get-ExFirst $r 'msexchserversite')
        if ($siteDn -eq '' -and $product -ne '2007') { $siteDn = [string](Get-ExFirst $r 'msexchhomeroutinggroup') }
        if ($siteDn -ne '') {
            $siteParts = Split-ExDn $siteDn
            if ($siteParts.Count -gt 0) { $site = ConvertFrom-ExRdnValue $siteParts[0] }
        }
    } catch { $site = '' }

    if ($organization -eq '') {
        try { $organization = Get-ExOrganizationFromDn ([string](Get-ExFirst $r 'distinguishedname')) } catch { }
    }

    [void]$keys.Add($name)
    [void]$items.Add(@{
        'name'    = $name
        'fqdn'    = $fqdn
        'product' = $product
        'roles'   = $roles
        'site'    = $site
    })
}

# Sorted by name, ordinal ignoring case (a culture's order would skip hyphens).
$keyArray = [string[]]$keys.ToArray([string])
$itemArray = $items.ToArray()
[System.Array]::Sort($keyArray, $itemArray, [System.StringComparer]::OrdinalIgnoreCase)
$servers = New-Object System.Collections.ArrayList
foreach ($item in $itemArray) { [void]$servers.Add($item) }

Write-Result $ExOperation @{
    'organization' = $organization
    'servers'      = $servers
    'probe'        = $probeAnswer
}
