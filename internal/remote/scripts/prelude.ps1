# prelude: shared by every operation (docs/architecture.md, "The PowerShell contract").
#
# Target: Windows PowerShell 2.0. No ConvertTo-Json, no [ordered], no -in, no ::new(), no
# classes. This file must stay ASCII-only: the console code page would mangle anything else
# (scripts_test.go checks it).
#
# The text that runs is: a header comment, the parameters as $Param_<Name> = <literal>, this
# prelude, then the operation body, all in ONE script block (wire.Script.Render). So the trap
# below covers the body, and the body's first statement sets $ExOperation to its own name.
#
# Output contract: exactly one line, wire.ResultMarker followed by the envelope JSON:
#   {"operation":"<op>","ok":true,"result":<value>}
#   {"operation":"<op>","ok":false,"fault":{"code":"<code>","message":"<text>"}}
# Everything else a script prints is noise that the reader skips.

$ErrorActionPreference = 'Stop'

# The operation name used by the trap; each body overwrites it first thing.
$ExOperation = 'unknown'

# Must equal wire.ResultMarker (scripts_test.go checks it).
$ExResultMarker = '#EXCHANGE-RESULT#'

$ExInvariant = [System.Globalization.CultureInfo]::InvariantCulture

# Add-ExJsonString appends $Text as a JSON string. Every character outside printable ASCII
# (below 0x20, and 0x7F and above) is written as \uXXXX, so the line is pure ASCII whatever
# the console code page; a character outside the BMP is a UTF-16 surrogate pair in .NET and
# so becomes two \uXXXX escapes, which is exactly how JSON spells it.
function Add-ExJsonString {
    param([System.Text.StringBuilder]$Builder, [string]$Text)
    [void]$Builder.Append('"')
    foreach ($ch in $Text.ToCharArray()) {
        $code = [int]$ch
        if ($code -eq 34) {
            [void]$Builder.Append('\"')
        } elseif ($code -eq 92) {
            [void]$Builder.Append('\\')
        } elseif ($code -lt 32 -or $code -gt 126) {
            [void]$Builder.Append('\u')
            [void]$Builder.Append($code.ToString('x4', $ExInvariant))
        } else {
            [void]$Builder.Append($ch)
        }
    }
    [void]$Builder.Append('"')
}

# Add-ExJson appends $Value as JSON. Values are passed as arguments, never through the
# pipeline, so PowerShell never unrolls an empty or one-element array here: an empty
# collection is written [] and a one-element collection [x].
function Add-ExJson {
    param([System.Text.StringBuilder]$Builder, $Value, [int]$Depth)
    if ($Depth -gt 64) {
        throw 'ConvertTo-ExJson: value nested deeper than 64 levels'
    }
    # $null first, and on the left: "$x -eq $null" filters when $x is an array.
    if ($null -eq $Value -or $Value -is [System.DBNull]) {
        [void]$Builder.Append('null')
        return
    }
    if ($Value -is [System.Boolean]) {
        if ($Value) { [void]$Builder.Append('true') } else { [void]$Builder.Append('false') }
        return
    }
    if ($Value -is [System.Management.Automation.SwitchParameter]) {
        if ($Value.IsPresent) { [void]$Builder.Append('true') } else { [void]$Builder.Append('false') }
        return
    }
    if ($Value -is [System.String] -or $Value -is [System.Char]) {
        Add-ExJsonString $Builder ([string]$Value)
        return
    }
    if ($Value -is [System.Enum] -or $Value -is [System.Guid] -or $Value -is [System.Version] -or
        $Value -is [System.TimeSpan] -or $Value -is [System.Uri]) {
        Add-ExJsonString $Builder $Value.ToString()
        return
    }
    if ($Value -is [System.DateTime] -or $Value -is [System.DateTimeOffset]) {
        # UTC, whole seconds: yyyy-MM-ddTHH:mm:ssZ (RFC 3339, read by Go's time.Time).
        # A DateTime of kind Unspecified is taken as local time, as WMI and .NET return it.
        if ($Value -is [System.DateTimeOffset]) { $utc = $Value.UtcDateTime } else { $utc = $Value.ToUniversalTime() }
        Add-ExJsonString $Builder $utc.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", $ExInvariant)
        return
    }
    if ($Value -is [System.Byte] -or $Value -is [System.SByte] -or $Value -is [System.Int16] -or
        $Value -is [System.UInt16] -or $Value -is [System.Int32] -or $Value -is [System.UInt32] -or
        $Value -is [System.Int64] -or $Value -is [System.UInt64]) {
        [void]$Builder.Append($Value.ToString($ExInvariant))
        return
    }
    if ($Value -is [System.Double] -or $Value -is [System.Single]) {
        # JSON has no NaN or infinity.
        if ([double]::IsNaN($Value) -or [double]::IsInfinity($Value)) {
            [void]$Builder.Append('null')
        } else {
            [void]$Builder.Append($Value.ToString('R', $ExInvariant))
        }
        return
    }
    if ($Value -is [System.Decimal]) {
        [void]$Builder.Append($Value.ToString($ExInvariant))
        return
    }
    if ($Value -is [System.Collections.IDictionary]) {
        # Keys as given. GetEnumerator, not .Keys: a hashtable with a key named "Keys" would
        # answer .Keys with that entry's value.
        [void]$Builder.Append('{')
        $first = $true
        foreach ($entry in $Value.GetEnumerator()) {
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-ExJsonString $Builder ([string]$entry.Key)
            [void]$Builder.Append(':')
            Add-ExJson $Builder $entry.Value ($Depth + 1)
        }
        [void]$Builder.Append('}')
        return
    }
    if ($Value.PSObject.BaseObject -is [System.Management.Automation.PSCustomObject]) {
        # New-Object PSObject -Property @{...} and Select-Object output: their NoteProperties.
        [void]$Builder.Append('{')
        $first = $true
        foreach ($property in $Value.PSObject.Properties) {
            if ($property.MemberType -ne 'NoteProperty') { continue }
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-ExJsonString $Builder $property.Name
            [void]$Builder.Append(':')
            Add-ExJson $Builder $property.Value ($Depth + 1)
        }
        [void]$Builder.Append('}')
        return
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        [void]$Builder.Append('[')
        $first = $true
        foreach ($item in $Value) {
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-ExJson $Builder $item ($Depth + 1)
        }
        [void]$Builder.Append(']')
        return
    }
    # Anything else (a WMI or .NET object that slipped through) is written as its text.
    Add-ExJsonString $Builder $Value.ToString()
}

# ConvertTo-ExJson returns $Value as one line of ASCII JSON.
function ConvertTo-ExJson {
    param($Value)
    $builder = New-Object System.Text.StringBuilder
    Add-ExJson $builder $Value 0
    return $builder.ToString()
}

# Write-ExLine writes one line straight to stdout. [Console]::Out, not the pipeline: the
# host's formatter may wrap or truncate long lines to the console width; this does not.
function Write-ExLine {
    param([string]$Line)
    [Console]::Out.WriteLine($Line)
    [Console]::Out.Flush()
}

# Write-Result writes the success envelope of $Operation with $Value as its result.
function Write-Result {
    param([string]$Operation, $Value)
    $builder = New-Object System.Text.StringBuilder
    [void]$builder.Append('{"operation":')
    Add-ExJsonString $builder $Operation
    [void]$builder.Append(',"ok":true,"result":')
    Add-ExJson $builder $Value 0
    [void]$builder.Append('}')
    Write-ExLine ($ExResultMarker + $builder.ToString())
}

# Write-Fault writes the fault envelope of $Operation: a code the Go side switches on and a
# message for people.
function Write-Fault {
    param([string]$Operation, [string]$Code, [string]$Message)
    $builder = New-Object System.Text.StringBuilder
    [void]$builder.Append('{"operation":')
    Add-ExJsonString $builder $Operation
    [void]$builder.Append(',"ok":false,"fault":{"code":')
    Add-ExJsonString $builder $Code
    [void]$builder.Append(',"message":')
    Add-ExJsonString $builder $Message
    [void]$builder.Append('}}')
    Write-ExLine ($ExResultMarker + $builder.ToString())
}

# Stop-ExOperation writes a deliberate fault for the running operation and ends the script.
# Exit code 0: the script did what it is for, reporting the fault, which travels in the
# envelope (as the simulator answers). "exit" unwinds as flow control: no trap or catch
# intercepts it.
function Stop-ExOperation {
    param([string]$Code, [string]$Message)
    Write-Fault $ExOperation $Code $Message
    exit 0
}

# ---------------------------------------------------------------------------------------
# Shared by several operations. Pure additions: nothing above depends on them, and an
# operation that does not call them is unaffected.

# The provider's own registry key: HKLM\<this>\Jobs\<id> holds one record per detached
# installer run (job_start, job_status, probe), HKLM\<this>\Lock the servicing lock (lock,
# probe). Times are stored as text, yyyy-MM-ddTHH:mm:ssZ (UTC), read back by
# ConvertFrom-ExIsoTime.
$ExProviderKey = 'SOFTWARE\BuildLevel\ExchangeProvider'
$ExIsoFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'"

function ConvertTo-ExIsoTime {
    param([datetime]$Time)
    return $Time.ToUniversalTime().ToString($ExIsoFormat, $ExInvariant)
}

# ConvertFrom-ExIsoTime returns a UTC DateTime, or $null for '' or text of another shape.
function ConvertFrom-ExIsoTime {
    param([string]$Text)
    if ($null -eq $Text -or $Text -eq '') { return $null }
    $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal -bor [System.Globalization.DateTimeStyles]::AdjustToUniversal
    $parsed = [datetime]::MinValue
    if ([datetime]::TryParseExact($Text, $ExIsoFormat, $ExInvariant, $styles, [ref]$parsed)) { return $parsed }
    return $null
}

# Test-ExExchangeService: is this Win32_Service one of the Exchange services of
# (name MSExchange*, display name "Microsoft Exchange ...", the 2000/2003
# routing engine RESvc, POP3Svc, IMAP4Svc, the 2007 search msftesql-Exchange) or an IIS
# service Exchange needs (W3SVC, IISADMIN, SMTPSVC)? Used by probe and exchange_services,
# so both see the same list.
$ExExchangeServiceNames = @('RESvc', 'POP3Svc', 'IMAP4Svc', 'msftesql-Exchange', 'W3SVC', 'IISADMIN', 'SMTPSVC')
function Test-ExExchangeService {
    param($Service)
    $name = [string]$Service.Name
    if ($name -like 'MSExchange*' -or [string]$Service.DisplayName -like 'Microsoft Exchange*') { return $true }
    foreach ($n in $ExExchangeServiceNames) {
        if ([string]::Equals($name, $n, [System.StringComparison]::OrdinalIgnoreCase)) { return $true }
    }
    return $false
}

# New-ExServiceFacts writes a Win32_Service as exchange.ServiceFacts. Win32_Service State is
# "Running", "Stopped", "Start Pending", ...; Facts spell it without the space
# ("StartPending"). StartMode is already "Auto", "Manual" or "Disabled".
function New-ExServiceFacts {
    param($Service)
    return @{
        'name'       = [string]$Service.Name
        'state'      = ([string]$Service.State).Replace(' ', '')
        'start_mode' = [string]$Service.StartMode
    }
}

# Get-ExServiceReturnText: the meaning of a Win32_Service method's ReturnValue (StartService,
# StopService, ChangeStartMode; Microsoft documentation of the Win32_Service class).
function Get-ExServiceReturnText {
    param([int]$Code)
    $texts = @('success', 'not supported', 'access denied', 'dependent services are running',
        'invalid service control', 'the service cannot accept the control', 'the service is not active',
        'the service did not respond in time', 'unknown failure', 'the service executable was not found',
        'the service is already running', 'the service database is locked', 'a dependency was deleted',
        'a dependency failed to start', 'the service is disabled', 'the service logon failed',
        'the service is marked for deletion', 'the service has no thread', 'circular dependency',
        'duplicate name', 'invalid name', 'invalid parameter', 'invalid service account',
        'the service exists', 'the service is already paused')
    if ($Code -ge 0 -and $Code -lt $texts.Length) { return ('' + $Code + ' (' + $texts[$Code] + ')') }
    return ('' + $Code)
}

# Test-ExProcessAlive: does the process with this id still run, and is it the same process
# (its Win32_Process CreationDate equals the one recorded when it started)? Process ids are
# reused, above all after a reboot. The WQL filter holds only an integer.
function Test-ExProcessAlive {
    param([int]$ProcessId, [string]$CreationDate)
    if ($ProcessId -le 0) { return $false }
    try {
        $found = @(Get-WmiObject -Class Win32_Process -Filter ('ProcessId = ' + $ProcessId) -ErrorAction Stop)
        foreach ($p in $found) {
            if ($CreationDate -eq '' -or [string]$p.CreationDate -eq $CreationDate) { return $true }
        }
        return $false
    } catch {
        # Cannot tell: do not declare a running job dead.
        return $true
    }
}

# Read-ExJob reads the job record HKLM\<ExProviderKey>\Jobs\<Id> as exchange.Job, or $null
# when there is none. $Id is a registry key name (callers validate it: no backslash). The
# record's values: Action, State, ExitCode, LogPath, Error, Started, Finished,
# RebootRequired (what exchange.Job shows), and the wrapper's Pid and ProcessCreated.
# A record still "running" whose wrapper process is gone (the server restarted, or the
# process was killed, before it wrote its result) is reported as failed: nothing will ever
# finish it. A record without a Pid is being started by job_start right now (it writes the
# Pid a moment later) unless it is older than two minutes.
function Read-ExJob {
    param([string]$Id)
    $key = $null
    try {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Jobs\' + $Id)
        if ($null -eq $key) { return $null }
        $state = [string]$key.GetValue('State', '')
        $exitCode = 0
        try { $exitCode = [int]$key.GetValue('ExitCode', 0) } catch { $exitCode = 0 }
        $reboot = $false
        try { $reboot = ([int]$key.GetValue('RebootRequired', 0) -ne 0) } catch { $reboot = $false }
        $started = ConvertFrom-ExIsoTime ([string]$key.GetValue('Started', ''))
        $finished = ConvertFrom-ExIsoTime ([string]$key.GetValue('Finished', ''))
        $logPath = [string]$key.GetValue('LogPath', '')
        $errorText = [string]$key.GetValue('Error', '')
        if ($state -eq '' -or $state -eq 'running') {
            $state = 'running'
            $processId = 0
            try { $processId = [int]$key.GetValue('Pid', 0) } catch { $processId = 0 }
            $alive = $true
            if ($processId -gt 0) {
                $alive = Test-ExProcessAlive $processId ([string]$key.GetValue('ProcessCreated', ''))
            } elseif ($null -eq $started -or $started.AddMinutes(2) -lt [datetime]::UtcNow) {
                $alive = $false
            }
            if (-not $alive) {
                $state = 'failed'
                $errorText = 'the job ended without recording a result (the server restarted or its process was stopped while the installer ran)'
                if ($logPath -ne '') { $errorText = $errorText + '; see ' + $logPath }
            }
        }
        return @{
            'id'              = $Id
            'action'          = [string]$key.GetValue('Action', '')
            'state'           = $state
            'exit_code'       = $exitCode
            'log_path'        = $logPath
            'error'           = $errorText
            'started'         = $started
            'finished'        = $finished
            'reboot_required' = $reboot
        }
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

# Get-ExJobs reads every job record, sorted by id ("return ," keeps the list whole).
function Get-ExJobs {
    $jobs = New-Object System.Collections.ArrayList
    $key = $null
    $names = @()
    try {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Jobs')
        if ($null -ne $key) { $names = @($key.GetSubKeyNames()) }
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
    [System.Array]::Sort($names, [System.StringComparer]::OrdinalIgnoreCase)
    foreach ($name in $names) {
        $job = Read-ExJob $name
        if ($null -ne $job) { [void]$jobs.Add($job) }
    }
    return ,$jobs
}

# Read-ExLock reads HKLM\<ExProviderKey>\Lock as exchange.Lock, or $null when free (no key,
# or no owner). An expired lock is still returned: the caller compares Expires.
function Read-ExLock {
    $key = $null
    try {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Lock')
        if ($null -eq $key) { return $null }
        $owner = [string]$key.GetValue('Owner', '')
        if ($owner -eq '') { return $null }
        return @{
            'owner'    = $owner
            'acquired' = (ConvertFrom-ExIsoTime ([string]$key.GetValue('Acquired', '')))
            'expires'  = (ConvertFrom-ExIsoTime ([string]$key.GetValue('Expires', '')))
        }
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

# Leftovers: what an apply changed on the server and must put back, recorded on the server
# so that a later plan finds it if the apply is interrupted (exchange.Leftovers; the probe
# reads it). HKLM\<ExProviderKey>\Leftovers: StoppedServices (REG_MULTI_SZ, services the
# service operation stopped), SetupWatermarksRemoved (REG_MULTI_SZ, the setup keys whose
# Action/Watermark values setup_watermark removed; job_clear forgets it), RevocationCheckOff
# (DWORD 1: revocation_check turned the check off). Whether customisations are aside is not
# recorded here: the saved copy's existence says it (customizations.ps1,
# Get-ExSavedLogonPath).

# Get-ExLeftoverList reads one REG_MULTI_SZ value of the Leftovers key: its non-empty
# strings, or an empty list.
function Get-ExLeftoverList {
    param([string]$Name)
    $list = New-Object System.Collections.ArrayList
    $key = $null
    try {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Leftovers')
        if ($null -ne $key) {
            foreach ($n in @($key.GetValue($Name, @()))) {
                if ([string]$n -ne '') { [void]$list.Add([string]$n) }
            }
        }
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
    return ,$list
}

# Set-ExLeftoverListItem adds (or with -Remove removes) one string of a REG_MULTI_SZ value of
# the Leftovers key, case-insensitively.
function Set-ExLeftoverListItem {
    param([string]$Name, [string]$Item, [switch]$Remove)
    $list = New-Object System.Collections.ArrayList
    foreach ($n in (Get-ExLeftoverList $Name)) {
        if (-not [string]::Equals($n, $Item, [System.StringComparison]::OrdinalIgnoreCase)) { [void]$list.Add($n) }
    }
    if (-not $Remove) { [void]$list.Add($Item) }
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($ExProviderKey + '\Leftovers')
    try {
        $key.SetValue($Name, [string[]]$list.ToArray([string]), [Microsoft.Win32.RegistryValueKind]::MultiString)
    } finally {
        $key.Close()
    }
}

function Get-ExStoppedServices {
    return ,(Get-ExLeftoverList 'StoppedServices')
}

# Set-ExStoppedService adds (or with -Started removes) a service name, case-insensitively.
function Set-ExStoppedService {
    param([string]$Name, [switch]$Started)
    Set-ExLeftoverListItem 'StoppedServices' $Name -Remove:$Started
}

function Get-ExLeftoverFlag {
    param([string]$Name)
    $key = $null
    try {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Leftovers')
        if ($null -eq $key) { return $false }
        return ([int]$key.GetValue($Name, 0) -ne 0)
    } finally {
        if ($null -ne $key) { $key.Close() }
    }
}

function Set-ExLeftoverFlag {
    param([string]$Name, [bool]$Value)
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($ExProviderKey + '\Leftovers')
    try {
        $key.SetValue($Name, [int]$Value, [Microsoft.Win32.RegistryValueKind]::DWord)
    } finally {
        $key.Close()
    }
}

# Get-ExSavedLogonPath: where customizations.ps1 keeps the OWA logon page it moved aside.
function Get-ExSavedLogonPath {
    return [System.IO.Path]::Combine([string]$env:SystemRoot, 'Temp\ExchangeProvider\customizations\owa_logon\logon.aspx')
}

# Get-ExSetupRunning says what setup or installation runs now, or '': a job of this provider
# still running, an ExSetup / ExSetupUI / setup / update process (KB 328839: several setup,
# update or xcopy instances block each other), or Windows Installer's _MSIExecute mutex (held
# while any installation runs). job_start and setup_watermark fault setup_running on it.
function Get-ExSetupRunning {
    foreach ($job in (Get-ExJobs)) {
        if ($job['state'] -eq 'running') {
            return ('job ' + $job['id'] + ' (' + $job['action'] + ') is still running')
        }
    }
    $busy = @(Get-Process -Name 'ExSetup', 'ExSetupUI', 'setup', 'update' -ErrorAction SilentlyContinue)
    if ($busy.Count -gt 0) {
        return ('a setup process is running: ' + $busy[0].Name + ' (process id ' + $busy[0].Id + ')')
    }
    $msiBusy = $false
    try {
        $msiMutex = [System.Threading.Mutex]::OpenExisting('Global\_MSIExecute')
        $msiMutex.Close()
        $msiBusy = $true
    } catch {
        # Absent: WaitHandleCannotBeOpenedException. Present but not ours to open: still busy.
        $ex = $_.Exception
        while ($null -ne $ex) {
            if ($ex -is [System.UnauthorizedAccessException]) { $msiBusy = $true }
            $ex = $ex.InnerException
        }
    }
    if ($msiBusy) {
        return 'Windows Installer is running another installation (the _MSIExecute mutex is held)'
    }
    return ''
}

# Enter-ExMutex / Exit-ExMutex serialise the read-check-write of the lock and of job records
# between concurrent operations on this server (two applies, or a retried command).
$ExMutexName = 'Global\BuildLevelExchangeProvider'
function Enter-ExMutex {
    $mutex = New-Object System.Threading.Mutex($false, $ExMutexName)
    $owned = $false
    try {
        $owned = $mutex.WaitOne(30000, $false)
    } catch {
        # AbandonedMutexException: the previous holder ended without releasing it, and the
        # mutex is ours now. PowerShell may wrap it, so look through the inner exceptions.
        $ex = $_.Exception
        while ($null -ne $ex -and -not ($ex -is [System.Threading.AbandonedMutexException])) { $ex = $ex.InnerException }
        if ($null -eq $ex) { throw }
        $owned = $true
    }
    if (-not $owned) {
        $mutex.Close()
        Stop-ExOperation 'busy' 'another provider operation on this server holds its mutex; try again'
    }
    return $mutex
}
function Exit-ExMutex {
    param($Mutex)
    if ($null -ne $Mutex) {
        try { $Mutex.ReleaseMutex() } catch { }
        $Mutex.Close()
    }
}

# ---------------------------------------------------------------------------------------
# What no path parameter (setup media, package, language-pack folder) may hold: a double quote
# or a control character (NUL, tab, CR, LF, ...). The installers get each path as one argument in
# double quotes. The provider refuses the same at plan: this text equals Go's
# wire.PathForbiddenPattern (scripts_test.go checks it).
$ExPathForbiddenPattern = '[\x00-\x1F"]'

# Find-ExInstaller finds the installer of an installing action (an exchange.Action* name) in
# its media and package paths, as job_start.ps1 runs it, and what else the installer reads
# from them: the one lookup job_start.ps1 starts the installer with and preflight.ps1 checks
# before an apply changes anything. InstallPath is the installed Exchange's MsiInstallPath
# ('' when none); Is2007: Exchange 2007 is installed (ExSetup.exe under it).
# - install_service_pack: Exchange 2007 <MediaPath>\Setup.com; 2000/2003/5.5
#   <MediaPath>\i386\update.exe, or <MediaPath>\setup\i386\update.exe where the extracted SP
#   keeps it (job_start.ps1's header has the sources).
# - install_update_rollup, install_interim_update: <PackagePath>, an .msp or an .exe.
# - remove_um_language_pack, add_um_language_pack: <MediaPath>\Setup.com, else
#   <InstallPath>\bin\Setup.com; the language pack folder (Source, for /s:) is PackagePath,
#   else MediaPath; the addition needs it to be there.
# - upgrade_cms: <MediaPath>\Setup.com.
# - uninstall_update_rollup, remove_interim_update: msiexec.exe of the system; nothing read.
# Returns @{ Exe (the installer; '' when there is none to find); Source (the UM language pack
# folder, '' for none); Reads (the installer and every folder it reads, to check); Problem
# ('' or why the installer cannot start: job_start.ps1 refuses with it) }.
function Find-ExInstaller {
    param([string]$Action, [string]$MediaPath, [string]$PackagePath, [string]$InstallPath, [bool]$Is2007)
    $found = @{ 'Exe' = ''; 'Source' = ''; 'Reads' = @(); 'Problem' = '' }
    $exe = ''
    switch ($Action) {
        'install_service_pack' {
            if ($MediaPath -eq '') { $found['Problem'] = 'no media path: a service pack installs from its setup media'; return $found }
            if ($Is2007) {
                $exe = [System.IO.Path]::Combine($MediaPath, 'Setup.com')
            } else {
                $exe = [System.IO.Path]::Combine($MediaPath, 'i386\update.exe')
                $other = [System.IO.Path]::Combine($MediaPath, 'setup\i386\update.exe')
                if (-not (Test-Path -LiteralPath $exe -PathType Leaf) -and (Test-Path -LiteralPath $other -PathType Leaf)) { $exe = $other }
            }
        }
        { $_ -eq 'install_update_rollup' -or $_ -eq 'install_interim_update' } { $exe = $PackagePath }
        { $_ -eq 'remove_um_language_pack' -or $_ -eq 'add_um_language_pack' } {
            # Unverified: that the installed Exchange's bin holds a Setup.com.
            if ($MediaPath -ne '') { $exe = [System.IO.Path]::Combine($MediaPath, 'Setup.com') }
            if (($exe -eq '' -or -not (Test-Path -LiteralPath $exe -PathType Leaf)) -and $InstallPath -ne '') {
                $installed = [System.IO.Path]::Combine($InstallPath, 'bin\Setup.com')
                if (Test-Path -LiteralPath $installed -PathType Leaf) { $exe = $installed }
            }
            if ($exe -eq '') { $found['Problem'] = 'no media path: UM language packs are added and removed with Setup.com from the Exchange media'; return $found }
            $found['Source'] = $PackagePath
            if ($PackagePath -eq '') { $found['Source'] = $MediaPath }
        }
        'upgrade_cms' {
            if ($MediaPath -eq '') { $found['Problem'] = 'no media path: /upgradeCMS runs Setup.com from the service pack media'; return $found }
            $exe = [System.IO.Path]::Combine($MediaPath, 'Setup.com')
        }
        default { return $found }
    }
    if ($exe -eq '' -or -not (Test-Path -LiteralPath $exe -PathType Leaf)) {
        $found['Problem'] = 'package not found: ' + $exe
        return $found
    }
    $found['Exe'] = $exe
    $found['Reads'] = @($exe)
    if ($Action -eq 'install_update_rollup' -or $Action -eq 'install_interim_update') {
        $extension = [System.IO.Path]::GetExtension($exe).ToLowerInvariant()
        if ($extension -ne '.msp' -and $extension -ne '.exe') {
            $found['Problem'] = 'package ' + $exe + ' is neither an .msp nor an .exe'
        }
    }
    if ($Action -eq 'add_um_language_pack') {
        $source = [string]$found['Source']
        if ($source -eq '' -or -not (Test-Path -LiteralPath $source)) {
            $found['Problem'] = 'package not found: ' + $source
        } else {
            $found['Reads'] = @($exe, $source)
        }
    }
    return $found
}
# The digits of a KB number (KBnnnnnn) and a whole one, matched case-sensitively (-cmatch).
# The same text as Go's exchange.KBDigits and exchange.KBPattern (scripts_test.go checks it).
$ExKBDigits = '[0-9]{4,8}'
$ExKBPattern = '^KB' + $ExKBDigits + '\z'

# The Windows cluster this server is a node of (probe, cluster, job_start). Read through the
# cluster WMI provider, namespace root\MSCluster (Windows Server 2003 and 2008), which
# answers only while the cluster service (ClusSvc) runs on this node. Changes go through
# cluster.exe (cluster.ps1), never through WMI methods.

# A cluster group name as the cluster, cluster.exe and the provider's parameters spell it:
# a letter or digit first (never "/" or "-": cluster.exe would read an option), then letters,
# digits, space and . _ ( ) # , & + -, at most 128 characters. \w is a Unicode letter or digit
# (or _), so localised names pass; no quote, no backslash, no control character can.
$ExClusterGroupPattern = '^[^\W_][\w .()#,&+-]{0,127}\z'
# A cluster node name: a computer (NetBIOS/DNS host) name.
$ExClusterNodePattern = '^[^\W_][\w-]{0,62}\z'

# Get-ExClusterWmi returns every instance of a root\MSCluster class, or throws when the
# provider cannot be asked (no cluster, cluster service stopped). PacketPrivacy: the cluster
# provider of Windows Server 2008 refuses anything less; Windows Server 2003 accepts it.
function Get-ExClusterWmi {
    param([string]$Class)
    return ,@(Get-WmiObject -Namespace 'root\MSCluster' -Class $Class -Authentication PacketPrivacy -ErrorAction Stop)
}

# Get-ExWmiRefName reads the Name key out of a WMI object path such as
# \\NODE1\root\MSCluster:MSCluster_ResourceGroup.Name="EVS1" (association endpoints).
function Get-ExWmiRefName {
    param([string]$Ref)
    $m = [regex]::Match($Ref, 'Name="((?:[^"\\]|\\.)*)"')
    if (-not $m.Success) { return '' }
    return $m.Groups[1].Value.Replace('\"', '"').Replace('\\', '\')
}

# ConvertTo-ExGroupState: MSCluster_ResourceGroup State (the CLUSTER_GROUP_STATE values of
# the cluster API: 0 Online, 1 Offline, 2 Failed, 3 PartialOnline, 4 Pending, -1 unknown,
# which WMI shows as 4294967295) as exchange.ClusterFacts.GroupState spells it; '' unknown.
function ConvertTo-ExGroupState {
    param($Code)
    $n = -1
    try { $n = [long]$Code } catch { $n = -1 }
    if ($n -eq 0) { return 'Online' }
    if ($n -eq 1) { return 'Offline' }
    if ($n -eq 2) { return 'Failed' }
    if ($n -eq 3) { return 'PartialOnline' }
    if ($n -eq 4) { return 'Pending' }
    return ''
}

# ConvertTo-ExResourceState: MSCluster_Resource State (CLUSTER_RESOURCE_STATE: 0 Inherited,
# 1 Initializing, 2 Online, 3 Offline, 4 Failed, 128 Pending, 129 OnlinePending,
# 130 OfflinePending, -1 unknown) as exchange.ClusterResource.State spells it. Initializing
# and the generic Pending are reported as OnlinePending (the resource is on its way, not
# settled); Inherited and unknown as ''.
function ConvertTo-ExResourceState {
    param($Code)
    $n = -1
    try { $n = [long]$Code } catch { $n = -1 }
    if ($n -eq 2) { return 'Online' }
    if ($n -eq 3) { return 'Offline' }
    if ($n -eq 4) { return 'Failed' }
    if ($n -eq 129 -or $n -eq 1 -or $n -eq 128) { return 'OnlinePending' }
    if ($n -eq 130) { return 'OfflinePending' }
    return ''
}

# Read-ExCluster reads the whole cluster once. Throws when the cluster WMI provider cannot
# be asked. Returns a hashtable:
#   Nodes:  ArrayList of @{ Name; State } (MSCluster_Node State: 0 Up, 1 Down, 2 Paused,
#           3 Joining, -1 unknown);
#   Groups: ArrayList of @{ Name; Owner; State (ConvertTo-ExGroupState); Threshold (the
#           group's FailoverThreshold, -1 when unreadable); Virtual (the Name private property
#           of its Network Name resource: the CMS/EVS network name; else the group name);
#           Resources (ArrayList of exchange.ClusterResource: name, type, state) }.
# Owner: MSCluster_NodeToActiveGroup (node -> the groups it owns, Windows Server 2003 and
# 2008), else the group's OwnerNode property (Windows Server 2008 R2 and later).
function Read-ExCluster {
    $nodeObjects = Get-ExClusterWmi 'MSCluster_Node'
    $groupObjects = Get-ExClusterWmi 'MSCluster_ResourceGroup'
    $resourceObjects = Get-ExClusterWmi 'MSCluster_Resource'
    $groupToResource = Get-ExClusterWmi 'MSCluster_ResourceGroupToResource'
    $nodeToGroup = @()
    try { $nodeToGroup = Get-ExClusterWmi 'MSCluster_NodeToActiveGroup' } catch { $nodeToGroup = @() }
    # Preferred owners (group -> nodes). WMI does not promise their order; the planner
    # therefore uses them as a set (which nodes an active/active EVS belongs on).
    $preferred = @{}
    try {
        foreach ($a in (Get-ExClusterWmi 'MSCluster_ResourceGroupToPreferredNode')) {
            $pg = Get-ExWmiRefName ([string]$a.GroupComponent)
            if (-not $preferred.ContainsKey($pg)) { $preferred[$pg] = New-Object System.Collections.ArrayList }
            [void]$preferred[$pg].Add((Get-ExWmiRefName ([string]$a.PartComponent)))
        }
    } catch { $preferred = @{} }

    $nodes = New-Object System.Collections.ArrayList
    foreach ($n in $nodeObjects) {
        $nodeState = -1
        try { $nodeState = [long]$n.State } catch { $nodeState = -1 }
        if ($nodeState -eq 4294967295) { $nodeState = -1 }
        [void]$nodes.Add(@{ 'Name' = [string]$n.Name; 'State' = $nodeState })
    }

    # resource name -> group name; group name -> owner node
    $resourceGroup = @{}
    foreach ($a in $groupToResource) {
        $resourceGroup[(Get-ExWmiRefName ([string]$a.PartComponent))] = Get-ExWmiRefName ([string]$a.GroupComponent)
    }
    $groupOwner = @{}
    foreach ($a in $nodeToGroup) {
        $groupOwner[(Get-ExWmiRefName ([string]$a.PartComponent))] = Get-ExWmiRefName ([string]$a.GroupComponent)
    }

    $groups = New-Object System.Collections.ArrayList
    foreach ($g in $groupObjects) {
        $gName = [string]$g.Name
        $owner = ''
        if ($groupOwner.ContainsKey($gName)) { $owner = [string]$groupOwner[$gName] }
        if ($owner -eq '') {
            try { if ($null -ne $g.OwnerNode) { $owner = [string]$g.OwnerNode } } catch { }
        }
        $threshold = -1
        try { if ($null -ne $g.FailoverThreshold) { $threshold = [long]$g.FailoverThreshold } } catch { $threshold = -1 }
        $virtual = $gName
        $owners = New-Object System.Collections.ArrayList
        if ($preferred.ContainsKey($gName)) { $owners = $preferred[$gName] }
        $members = New-Object System.Collections.ArrayList
        foreach ($r in $resourceObjects) {
            if ($resourceGroup[[string]$r.Name] -ne $gName) { continue }
            $rType = [string]$r.Type
            if ($rType -eq 'Network Name') {
                try {
                    $nn = [string]$r.PrivateProperties.Name
                    if ($nn -ne '') { $virtual = $nn }
                } catch { }
            }
            [void]$members.Add(@{
                'name'  = [string]$r.Name
                'type'  = $rType
                'state' = (ConvertTo-ExResourceState $r.State)
            })
        }
        [void]$groups.Add(@{
            'Name'      = $gName
            'Owner'     = $owner
            'State'     = (ConvertTo-ExGroupState $g.State)
            'Threshold' = $threshold
            'Virtual'   = $virtual
            'Resources' = $members
            'Preferred' = $owners
        })
    }
    # The cluster's own name (MSCluster_Cluster.Name): what an administrator calls the
    # cluster as a whole, e.g. an active/active cluster of two EVSs.
    $clusterName = ''
    try {
        foreach ($cl in (Get-ExClusterWmi 'MSCluster_Cluster')) { $clusterName = [string]$cl.Name; break }
    } catch { $clusterName = '' }
    return @{ 'Nodes' = $nodes; 'Groups' = $groups; 'Name' = $clusterName }
}

# Find-ExClusterGroup returns the group of a Read-ExCluster result named $Name (the group's
# name, or its network name, whose first DNS label is compared), ignoring case; $null when
# there is none. The caller uses the group's own Name from then on: a parameter only ever
# selects among the groups the cluster has.
function Find-ExClusterGroup {
    param($Cluster, [string]$Name)
    $short = $Name
    $dot = $short.IndexOf('.')
    if ($dot -gt 0) { $short = $short.Substring(0, $dot) }
    foreach ($g in $Cluster['Groups']) {
        if ([string]::Equals([string]$g['Name'], $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return $g }
    }
    foreach ($g in $Cluster['Groups']) {
        $v = [string]$g['Virtual']
        $vdot = $v.IndexOf('.')
        if ($vdot -gt 0) { $v = $v.Substring(0, $vdot) }
        if ([string]::Equals($v, $short, [System.StringComparison]::OrdinalIgnoreCase)) { return $g }
    }
    return $null
}

# Test-ExExchangeResourcesOffline: is the Exchange server of a group (a Read-ExCluster group)
# stopped? True when the group is Offline or every resource whose type names Exchange
# (System Attendant, Information Store, Database Instance, ...) is Offline, whatever its IP
# address, network name and disks are: Stop-ClusteredMailboxServer (2007) is not documented
# to say which of those it leaves online.
function Test-ExExchangeResourcesOffline {
    param($Group)
    if ([string]$Group['State'] -eq 'Offline') { return $true }
    foreach ($r in $Group['Resources']) {
        if ([string]$r['type'] -like '*Exchange*' -and [string]$r['state'] -ne 'Offline') { return $false }
    }
    return $true
}

# The resource types an Exchange 2000/2003 virtual server keeps online for its upgrade
# (KB 328839 steps 7 and "c1037b44": IP address, network name, physical disk).
# The IPv6 address types of Windows Server 2008 count as IP addresses.
$ExEvsBaseResourceTypes = @('IP Address', 'IPv6 Address', 'IPv6 Tunnel Address', 'Physical Disk', 'Network Name')

# Get-ExClusterEvents lists the cluster-relevant Exchange events logged since $Since (a
# DateTime in local time, as the event log keeps it; $null: no lower bound) [KB 328839]: "1025" when the Application or System log holds event 1025 of source
# MSExchangeCluster ("the Exchange virtual server must be upgraded before it can come
# online"), "c1037b44" when an entry's insertion strings or message contain c1037b44 ("the
# version of Exchange on this computer does not match ..."; Cluster Administrator shows it
# in a dialog, so it may well never reach a log). Bounded: the newest 200 entries of each
# log. An unreadable log is skipped.
function Get-ExClusterEvents {
    param($Since)
    $found = @{}
    foreach ($logName in @('Application', 'System')) {
        $entries = @()
        try { $entries = @(Get-EventLog -LogName $logName -Newest 200 -ErrorAction Stop) } catch { $entries = @() }
        foreach ($e in $entries) {
            try {
                if ($null -ne $Since -and $e.TimeGenerated -lt $Since) { continue }
                if (([long]$e.InstanceId -band 0xFFFF) -eq 1025 -and [string]$e.Source -eq 'MSExchangeCluster') { $found['1025'] = $true }
                $text = (@($e.ReplacementStrings) -join ' ') + ' ' + [string]$e.Message
                if ($text.IndexOf('c1037b44', [System.StringComparison]::OrdinalIgnoreCase) -ge 0) { $found['c1037b44'] = $true }
            } catch { }
        }
    }
    $list = New-Object System.Collections.ArrayList
    foreach ($id in @('1025', 'c1037b44')) {
        if ($found.ContainsKey($id)) { [void]$list.Add($id) }
    }
    return ,$list
}

# Any terminating error nobody caught (with ErrorActionPreference Stop, that is every error
# not handled on purpose) becomes the fault "unexpected" with the exception's message and
# the script line, and exit code 1.
trap {
    $message = 'unknown error'
    if ($null -ne $_ -and $null -ne $_.Exception) { $message = $_.Exception.Message }
    if ($null -ne $_ -and $null -ne $_.InvocationInfo -and $_.InvocationInfo.ScriptLineNumber -gt 0) {
        $message = $message + ' (script line ' + $_.InvocationInfo.ScriptLineNumber + ')'
    }
    Write-Fault $ExOperation 'unexpected' $message
    exit 1
}
