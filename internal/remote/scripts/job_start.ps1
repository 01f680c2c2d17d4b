# job_start: starts an installer DETACHED from the WinRM connection and records it as a job
# (wire.OpJobStart; docs/architecture.md, "Long-running work"). An SP install takes an hour
# or more: it must outlive this command, the WinRM shell and the provider's connection.
#
# Parameters (strings, '' when not used): $Param_ID (exchange.JobID of the step),
# $Param_Action (one of the installing exchange.Action* names below), $Param_MediaPath,
# $Param_PackagePath, $Param_PatchCode, $Param_KB, $Param_Language, $Param_Group (the CMS of
# upgrade_cms: its cluster group's name or its network name).
# Result: exchange.Job (Read-ExJob, prelude.ps1).
# Faults: invalid (a parameter that cannot be right: id, action, language, patch code, group),
# setup_running (another setup or installation runs now), watermark (an interrupted
# Exchange 2007 setup left Action/Watermark values: setup would refuse), refused (the
# installer cannot run: "package not found: <path>", an unsupported package, ...),
# start_failed (Windows would not create the process; nothing was recorded), busy.
#
# Order, all under the provider's mutex (Enter-ExMutex), so two job_starts cannot both start:
# 1. A record HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Jobs\<ID> exists, running or
#    succeeded: return it, start nothing (a second apply attaches to it). A failed one is
#    replaced by a new run under the same ID, after the checks below (its msiexec log, named
#    per run, stays). A record that says running while its wrapper process is gone (a reboot
#    or a kill interrupted it) is marked failed first.
# 2. Another setup runs: a job of this provider still running, an ExSetup / ExSetupUI /
#    setup / update process [KB 328839: several setup, update or xcopy
#    instances block each other], or Windows Installer's _MSIExecute mutex (held while any
#    installation runs) -> setup_running.
# 3. Any HKLM\SOFTWARE\Microsoft\Exchange\v8.0\<key> with an Action or Watermark value
#    ["Service Packs fuer Exchange 2007"] -> watermark; ClusteredMailboxServer's not for upgrade_cms,
#    which completes that CMS setup (TechNet cc540457).
# 4. The installer (and package) exist (Test-Path) -> else refused "package not found: <path>".
# 5. Write the record (State running, Started, and what the wrapper needs), then create the
#    wrapper process with Win32_Process.Create: a process created by the WMI service is not
#    in the WinRM shell's job object, so closing the shell does not end it.
#
# The installers (fixed argument lists; user values only as whole arguments):
# - install_service_pack, Exchange 2007: <MediaPath>\Setup.com /mode:upgrade ["How to install the latest Service Pack or Update Rollup for Exchange 2007";
#   "Service Packs fuer Exchange 2007"]; log %SystemDrive%\ExchangeSetupLogs\ExchangeSetup.log.
#   Exchange 2000/2003/5.5: <MediaPath>\i386\update.exe /q (also looked for as
#   <MediaPath>\setup\i386\update.exe, where the extracted SP keeps it) [KB 328839:
#   "run the SP"; the /q switch is not stated there and is unverified];
#   log %SystemDrive%\Exchange Server Setup Progress.log (unverified).
# - install_update_rollup, install_interim_update: an .msp with
#   msiexec.exe /update <PackagePath> /quiet /norestart /l*v <log>; an .exe package
#   (Exchange 2000/2003 hotfixes) with <PackagePath> /quiet /norestart, log %SystemRoot%\<KB>.log
#   (where those packages log by default; unverified).
# - uninstall_update_rollup, remove_interim_update (Exchange 2007):
#   msiexec.exe /package {24B2C164-DE66-44FE-B468-A46D9D5E6B31} /uninstall <PatchCode>
#   /quiet /norestart /l*v <log>. The product code is Exchange Server 2007's: Windows
#   Installer keeps it under UserData\S-1-5-18\Products\461C2B4266EDEF444B864AD6D9E5B613.
#   Packed <-> GUID: the first three groups are reversed whole
#   (24B2C164 -> 461C2B42, DE66 -> 66ED, 44FE -> EF44), each byte of the last eight has its two
#   digits swapped (B4 68 -> 4B 86; A4 6D 9D 5E 6B 31 -> 4A D6 D9 E5 B6 13):
#   461C2B42 66ED EF44 4B86 4AD6D9E5B613. (scripts_test.go checks it.) A hotfix without a
#   Windows Installer patch code (Exchange 2000/2003) is refused: remove it by hand.
# - remove_um_language_pack: <MediaPath>\Setup.com /RemoveUmLanguagePack:<Language> /s:<source>
#   add_um_language_pack: <MediaPath>\Setup.com /AddUmLanguagePack:<Language> /s:<source>
#   ["Service Packs fuer Exchange 2007", which passes /s: to both]. <source> is PackagePath (the
#   folder with the UM language packs) when given, else MediaPath; the removal goes without
#   /s: when neither is given. Setup.com is <install>\bin\Setup.com when MediaPath has none.
#   Log: ExchangeSetup.log.
# - upgrade_cms (Exchange 2007 CCR/SCC): <MediaPath>\Setup.com /upgradeCMS
#   ["Service Packs fuer Exchange 2007"]. The CMS is not an argument of /upgradeCMS: Setup upgrades the clustered
#   mailbox server this node owns. So first, through the cluster WMI provider
#   (Read-ExCluster, prelude.ps1): the group named by Group exists, THIS node owns it, and
#   the CMS is stopped (every Exchange resource of the group offline,
#   Test-ExExchangeResourcesOffline) -> else refused. Log: ExchangeSetup.log.
# "Upgrade Exchange Virtual Server" (Exchange 2003 EVS) is not among them: Microsoft documents
# it only as a Cluster Administrator task [KB 328839 step 11], and bringing the
# System Attendant online instead fails with MSExchangeCluster event 1025. The plan carries it
# as the manual step upgrade_evs_manually, which the executor checks with the probe.
# The msiexec log is %SystemRoot%\Temp\ExchangeProvider\jobs\<ID>-<yyyyMMddHHmmss>.log.
#
# The wrapper ($jobWrapper below) is fixed text. The only thing put into it is a token this
# script makes itself (32 hex digits of a new GUID): the wrapper finds its record by that
# token and reads everything else from the record (Exe, Arguments, WorkingDirectory,
# LogPath, LogOffset, PendingBefore). No parameter value is ever rendered into code: they
# reach the installer as registry data and whole, quoted command-line arguments.
# The wrapper runs as powershell.exe -NoProfile -NonInteractive -EncodedCommand <base64 of
# UTF-16>, well under cmd.exe's 8191 characters (scripts_test.go measures it). It starts the
# installer with System.Diagnostics.Process, waits, and writes ExitCode, RebootRequired
# (exit 3010 or 1641, or PendingFileRenameOperations appearing during the run), Error (the
# first "FileInUse:" line the run added to the log [KB 328839], else the exit code), Finished,
# and last State: succeeded for exit codes 0, 3010 and 1641 without FileInUse, else failed.

$ExOperation = 'job_start'

$id = [string]$Param_ID
$action = [string]$Param_Action
$mediaPath = ([string]$Param_MediaPath).Trim()
$packagePath = ([string]$Param_PackagePath).Trim()
$patchCode = ([string]$Param_PatchCode).Trim()
$kb = ([string]$Param_KB).Trim()
$language = ([string]$Param_Language).Trim()
$group = ([string]$Param_Group).Trim()

# \z, not $: in .NET regular expressions $ also matches before a final newline.
if ($id -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z') {
    Stop-ExOperation 'invalid' ('"' + $id + '" is not a job id (letters, digits, dot, dash and underscore, at most 128)')
}

$jobWrapper = @'
$ErrorActionPreference='Stop'
$t='@@TOKEN@@'
$L=[Microsoft.Win32.Registry]::LocalMachine
$J='SOFTWARE\BuildLevel\ExchangeProvider\Jobs'
$k=$null
foreach($n in $L.OpenSubKey($J).GetSubKeyNames()){$c=$L.OpenSubKey($J+'\'+$n,$true);if([string]$c.GetValue('Token','') -ceq $t){$k=$c;break};$c.Close()}
if($null -eq $k){exit 2}
$D=[Microsoft.Win32.RegistryValueKind]::DWord
$S=[Microsoft.Win32.RegistryValueKind]::String
$x=-1
$e=''
try{
$i=New-Object Diagnostics.ProcessStartInfo
$i.FileName=[string]$k.GetValue('Exe','')
$i.Arguments=[string]$k.GetValue('Arguments','')
$i.WorkingDirectory=[string]$k.GetValue('WorkingDirectory','')
$i.UseShellExecute=$false
$p=[Diagnostics.Process]::Start($i)
try{$k.SetValue('InstallerPid',$p.Id,$D)}catch{}
$p.WaitForExit()
$x=$p.ExitCode
}catch{$e='the installer did not run: '+$_.Exception.Message}
$ok=($e -eq '' -and ($x -eq 0 -or $x -eq 3010 -or $x -eq 1641))
try{
$l=[string]$k.GetValue('LogPath','')
if($l -ne '' -and [IO.File]::Exists($l)){
$b=[IO.File]::ReadAllBytes($l)
$o=[int]$k.GetValue('LogOffset',0)
if($o -lt 0 -or $o -gt $b.Length){$o=0}
foreach($c in @([Text.Encoding]::Default,[Text.Encoding]::Unicode)){$m=[regex]::Match($c.GetString($b,$o,$b.Length-$o),'FileInUse:[^\r\n\x00]*');if($m.Success){$e=$m.Value.Trim();$ok=$false;break}}
}
}catch{}
if(-not $ok -and $e -eq ''){$e='the installer exited with code '+$x}
$h=[string]$k.GetValue('Hint','')
if(-not $ok -and $h -ne ''){$e=$e+': '+$h}
$r=$false
try{$v=$L.OpenSubKey('SYSTEM\CurrentControlSet\Control\Session Manager').GetValue('PendingFileRenameOperations');$r=((@($v) -join '') -ne '' -and [int]$k.GetValue('PendingBefore',0) -eq 0)}catch{}
$k.SetValue('ExitCode',[int]$x,$D)
$k.SetValue('RebootRequired',[int]($x -eq 3010 -or $x -eq 1641 -or $r),$D)
$k.SetValue('Error',$e,$S)
$k.SetValue('Finished',[DateTime]::UtcNow.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'",[Globalization.CultureInfo]::InvariantCulture),$S)
$s='failed'
if($ok){$s='succeeded'}
$k.SetValue('State',$s,$S)
$k.Close()
'@

$installingActions = @('install_service_pack', 'install_update_rollup', 'install_interim_update',
    'uninstall_update_rollup', 'remove_interim_update', 'remove_um_language_pack', 'add_um_language_pack',
    'upgrade_cms')

# The Exchange 2007 product code (see the header for its packed form).
$exchange2007ProductCode = '{24B2C164-DE66-44FE-B468-A46D9D5E6B31}'

$HKLM = [Microsoft.Win32.Registry]::LocalMachine
$jobsPath = $ExProviderKey + '\Jobs'

# ConvertTo-ExArgument quotes one argument for a Windows command line as the C runtime and
# CommandLineToArgvW split it: plain when it has no space, tab or quote and is not empty;
# otherwise in double quotes, with the backslashes before the closing quote doubled.
# Values holding a double quote or a control character are refused before they get here.
function ConvertTo-ExArgument {
    param([string]$Arg)
    if ($Arg -ne '' -and $Arg -notmatch '[\s"]') { return $Arg }
    $trailing = 0
    while ($trailing -lt $Arg.Length -and $Arg[$Arg.Length - 1 - $trailing] -eq [char]'\') { $trailing++ }
    return ('"' + $Arg + ('\' * $trailing) + '"')
}

# Test-ExPathValue refuses a path parameter holding what $ExPathForbiddenPattern matches. It is
# given the parameter as sent, before Trim: a trailing CR or LF is refused, as at plan.
function Test-ExPathValue {
    param([string]$What, [string]$Value)
    if ($Value -match $ExPathForbiddenPattern) {
        Stop-ExOperation 'invalid' ($What + ' "' + $Value + '" holds a double quote or a control character')
    }
}

function Get-ExRegText {
    param([string]$Path, [string]$Name)
    $key = $HKLM.OpenSubKey($Path)
    if ($null -eq $key) { return '' }
    try { return [string]$key.GetValue($Name, '') } finally { $key.Close() }
}

function Get-ExFileLength {
    param([string]$Path)
    try {
        if ($Path -ne '' -and [System.IO.File]::Exists($Path)) { return (New-Object System.IO.FileInfo($Path)).Length }
    } catch { }
    return 0
}

function Test-ExPendingRenames {
    $v = $null
    try {
        $key = $HKLM.OpenSubKey('SYSTEM\CurrentControlSet\Control\Session Manager')
        if ($null -ne $key) {
            $v = $key.GetValue('PendingFileRenameOperations', $null)
            $key.Close()
        }
    } catch { }
    return ((@($v) -join '') -ne '')
}

# Get-ExJobClusterGroup reads the cluster and the group Group names (upgrade_cms):
# @{ Group; Cluster } (Read-ExCluster, Find-ExClusterGroup, prelude.ps1).
function Get-ExJobClusterGroup {
    param([string]$What)
    if ($group -eq '') { Stop-ExOperation 'invalid' ($What + ' needs its clustered mailbox server or Exchange virtual server in Group') }
    $cluster = $null
    try {
        $cluster = Read-ExCluster
    } catch {
        Stop-ExOperation 'refused' ('the cluster cannot be read on ' + [string]$env:COMPUTERNAME + ' (is its cluster service running?): ' + $_.Exception.Message)
    }
    $g = Find-ExClusterGroup $cluster $group
    if ($null -eq $g) { Stop-ExOperation 'refused' ('the cluster has no group "' + $group + '"') }
    return @{ 'Group' = $g; 'Cluster' = $cluster }
}

function Assert-ExFile {
    param([string]$Path)
    if ($Path -eq '' -or -not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        Stop-ExOperation 'refused' ('package not found: ' + $Path)
    }
}

$mutex = Enter-ExMutex
try {
    # 1. The job exists: attach to it, unless it failed. A record that says running while
    #    its process is gone (Read-ExJob reads it as failed) is marked failed first, so it
    #    stays failed whatever happens next.
    $existing = Read-ExJob $id
    if ($null -ne $existing -and $existing['state'] -ne 'failed') {
        Write-Result $ExOperation $existing
        return
    }
    if ($null -ne $existing) {
        $old = $HKLM.OpenSubKey($jobsPath + '\' + $id, $true)
        if ($null -ne $old) {
            try {
                if ([string]$old.GetValue('State', '') -ne 'failed') {
                    $old.SetValue('Error', [string]$existing['error'], [Microsoft.Win32.RegistryValueKind]::String)
                    $old.SetValue('Finished', (ConvertTo-ExIsoTime ([datetime]::UtcNow)), [Microsoft.Win32.RegistryValueKind]::String)
                    $old.SetValue('State', 'failed', [Microsoft.Win32.RegistryValueKind]::String)
                }
            } finally {
                $old.Close()
            }
        }
    }

    if ($installingActions -notcontains $action) {
        Stop-ExOperation 'invalid' ('"' + $action + '" is not an installing action (' + ($installingActions -join ', ') + ')')
    }
    Test-ExPathValue 'MediaPath' ([string]$Param_MediaPath)
    Test-ExPathValue 'PackagePath' ([string]$Param_PackagePath)
    if ($patchCode -ne '' -and $patchCode -notmatch '^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}\z') {
        Stop-ExOperation 'invalid' ('"' + $patchCode + '" is not a Windows Installer patch code ({GUID})')
    }
    if ($kb -ne '' -and $kb -notmatch '^KB[0-9]{4,8}\z') {
        Stop-ExOperation 'invalid' ('"' + $kb + '" is not a KB number (KBnnnnnn)')
    }
    if ($language -ne '' -and $language -notmatch '^[A-Za-z]{2,3}-[A-Za-z]{2,4}\z') {
        Stop-ExOperation 'invalid' ('"' + $language + '" is not a culture name (e.g. de-DE)')
    }
    if ($group -ne '' -and $group -notmatch $ExClusterGroupPattern) {
        Stop-ExOperation 'invalid' ('"' + $group + '" is not a cluster group name (letters, digits, space and . _ ( ) # , & + -, at most 128, a letter or digit first)')
    }

    # 2. Another setup now.
    $running = Get-ExSetupRunning
    if ($running -ne '') { Stop-ExOperation 'setup_running' $running }

    # 3. An interrupted Exchange 2007 setup.
    $v8 = 'SOFTWARE\Microsoft\Exchange\v8.0'
    $v8Key = $HKLM.OpenSubKey($v8)
    if ($null -ne $v8Key) {
        try {
            foreach ($sub in $v8Key.GetSubKeyNames()) {
                $roleKey = $v8Key.OpenSubKey($sub)
                if ($null -eq $roleKey) { continue }
                try {
                    $marks = @()
                    foreach ($valueName in $roleKey.GetValueNames()) {
                        if ($valueName -eq 'Action' -or $valueName -eq 'Watermark') {
                            $marks += ($valueName + ' = ' + [string]$roleKey.GetValue($valueName))
                        }
                    }
                    # ClusteredMailboxServer holds them after a CMS setup (/upgradeCMS) that did
                    # not finish: the remedy is to run that setup again (Exchange Best Practices
                    # Analyzer, "Possible CMS Setup Failure", TechNet cc540457), so they do not
                    # stop upgrade_cms; the probe reports them as stale_cms_key, not as a role's.
                    $cmsKey = [string]::Equals($sub, 'ClusteredMailboxServer', [System.StringComparison]::OrdinalIgnoreCase)
                    if ($marks.Count -gt 0 -and $cmsKey -and $action -ne 'upgrade_cms') {
                        Stop-ExOperation 'watermark' ('HKLM\' + $v8 + '\' + $sub + ' holds ' + ($marks -join ', ') +
                            ': a clustered mailbox server setup did not finish; run Setup.com /upgradeCMS on the node that owns the CMS first')
                    }
                    if ($marks.Count -gt 0 -and -not $cmsKey) {
                        Stop-ExOperation 'watermark' ('HKLM\' + $v8 + '\' + $sub + ' holds ' + ($marks -join ', ') +
                            ': an Exchange setup was interrupted, and setup refuses to start while they exist')
                    }
                } finally {
                    $roleKey.Close()
                }
            }
        } finally {
            $v8Key.Close()
        }
    }

    # 4. The installer command.
    $systemRoot = [string]$env:SystemRoot
    $systemDrive = [string]$env:SystemDrive
    $msiexec = [System.IO.Path]::Combine($systemRoot, 'System32\msiexec.exe')
    # One msiexec log per run (a failed run's log stays when the step runs again).
    $msiLog = [System.IO.Path]::Combine($systemRoot, 'Temp\ExchangeProvider\jobs\' + $id + '-' + [datetime]::UtcNow.ToString('yyyyMMddHHmmss', $ExInvariant) + '.log')
    $exchangeSetupLog = [System.IO.Path]::Combine($systemDrive + '\', 'ExchangeSetupLogs\ExchangeSetup.log')
    $installPath = Get-ExRegText 'SOFTWARE\Microsoft\Exchange\Setup' 'MsiInstallPath'
    $is2007 = ($installPath -ne '' -and [System.IO.File]::Exists([System.IO.Path]::Combine($installPath, 'bin\ExSetup.exe')))

    $exe = ''
    $arguments = @()
    $workDir = $systemRoot
    $logPath = ''
    $hint = ''
    switch ($action) {
        'install_service_pack' {
            if ($mediaPath -eq '') { Stop-ExOperation 'refused' 'no media path: a service pack installs from its setup media' }
            if ($is2007) {
                $exe = [System.IO.Path]::Combine($mediaPath, 'Setup.com')
                $arguments = @('/mode:upgrade')
                $logPath = $exchangeSetupLog
            } else {
                $exe = [System.IO.Path]::Combine($mediaPath, 'i386\update.exe')
                $other = [System.IO.Path]::Combine($mediaPath, 'setup\i386\update.exe')
                if (-not (Test-Path -LiteralPath $exe -PathType Leaf) -and (Test-Path -LiteralPath $other -PathType Leaf)) { $exe = $other }
                $arguments = @('/q')
                $logPath = [System.IO.Path]::Combine($systemDrive + '\', 'Exchange Server Setup Progress.log')
            }
            Assert-ExFile $exe
            $workDir = [System.IO.Path]::GetDirectoryName($exe)
        }
        { $_ -eq 'install_update_rollup' -or $_ -eq 'install_interim_update' } {
            Assert-ExFile $packagePath
            $extension = [System.IO.Path]::GetExtension($packagePath).ToLowerInvariant()
            if ($extension -eq '.msp') {
                $exe = $msiexec
                $arguments = @('/update', $packagePath, '/quiet', '/norestart', '/l*v', $msiLog)
                $logPath = $msiLog
            } elseif ($extension -eq '.exe') {
                $exe = $packagePath
                $arguments = @('/quiet', '/norestart')
                if ($kb -ne '') { $logPath = [System.IO.Path]::Combine($systemRoot, $kb + '.log') }
                $workDir = [System.IO.Path]::GetDirectoryName($packagePath)
            } else {
                Stop-ExOperation 'refused' ('package ' + $packagePath + ' is neither an .msp nor an .exe')
            }
        }
        { $_ -eq 'uninstall_update_rollup' -or $_ -eq 'remove_interim_update' } {
            if ($patchCode -eq '') {
                Stop-ExOperation 'refused' ('no Windows Installer patch code for ' + $kb + ': only Exchange 2007 updates (.msp) can be removed by the provider; remove this one by hand')
            }
            if (-not $is2007) {
                Stop-ExOperation 'refused' 'removing an update by patch code needs Exchange Server 2007 (no ExSetup.exe under MsiInstallPath)'
            }
            $exe = $msiexec
            $arguments = @('/package', $exchange2007ProductCode, '/uninstall', $patchCode.ToUpperInvariant(), '/quiet', '/norestart', '/l*v', $msiLog)
            $logPath = $msiLog
        }
        { $_ -eq 'remove_um_language_pack' -or $_ -eq 'add_um_language_pack' } {
            if ($language -eq '') { Stop-ExOperation 'invalid' 'no language: a UM language pack is named by its culture (e.g. de-DE)' }
            # Setup.com: from MediaPath when it has one, else the installed Exchange's
            # <install>\bin\Setup.com (the caller may pass the UM language pack folder as
            # MediaPath, which holds no Setup.com). Unverified: that bin holds a Setup.com.
            $exe = ''
            if ($mediaPath -ne '') { $exe = [System.IO.Path]::Combine($mediaPath, 'Setup.com') }
            if (($exe -eq '' -or -not (Test-Path -LiteralPath $exe -PathType Leaf)) -and $installPath -ne '') {
                $installed = [System.IO.Path]::Combine($installPath, 'bin\Setup.com')
                if (Test-Path -LiteralPath $installed -PathType Leaf) { $exe = $installed }
            }
            if ($exe -eq '') { Stop-ExOperation 'refused' 'no media path: UM language packs are added and removed with Setup.com from the Exchange media' }
            Assert-ExFile $exe
            # /s: the folder with the language packs: PackagePath, else MediaPath. Seed 004
            # passes it to the removal too.
            $source = $packagePath
            if ($source -eq '') { $source = $mediaPath }
            if ($action -eq 'add_um_language_pack') {
                if ($source -eq '' -or -not (Test-Path -LiteralPath $source)) { Stop-ExOperation 'refused' ('package not found: ' + $source) }
                $arguments = @('/AddUmLanguagePack:' + $language, '/s:' + $source)
            } elseif ($source -ne '') {
                $arguments = @('/RemoveUmLanguagePack:' + $language, '/s:' + $source)
            } else {
                $arguments = @('/RemoveUmLanguagePack:' + $language)
            }
            $logPath = $exchangeSetupLog
            $workDir = [System.IO.Path]::GetDirectoryName($exe)
        }
        'upgrade_cms' {
            if (-not $is2007) {
                Stop-ExOperation 'refused' 'Setup.com /upgradeCMS needs Exchange Server 2007 on this node (no ExSetup.exe under MsiInstallPath)'
            }
            if ($mediaPath -eq '') { Stop-ExOperation 'refused' 'no media path: /upgradeCMS runs Setup.com from the service pack media' }
            $found = Get-ExJobClusterGroup 'upgrade_cms'
            $cms = $found['Group']
            $computer = [string]$env:COMPUTERNAME
            if (-not [string]::Equals([string]$cms['Owner'], $computer, [System.StringComparison]::OrdinalIgnoreCase)) {
                Stop-ExOperation 'refused' ('clustered mailbox server ' + $cms['Virtual'] + ' is owned by ' + $cms['Owner'] + ', not by ' + $computer +
                    ': Setup.com /upgradeCMS runs on the node that owns the stopped CMS (move it here first)')
            }
            if (-not (Test-ExExchangeResourcesOffline $cms)) {
                Stop-ExOperation 'refused' ('clustered mailbox server ' + $cms['Virtual'] + ' is ' + $cms['State'] +
                    ': Setup.com /upgradeCMS runs on a stopped CMS (Stop-ClusteredMailboxServer first)')
            }
            $exe = [System.IO.Path]::Combine($mediaPath, 'Setup.com')
            Assert-ExFile $exe
            $arguments = @('/upgradeCMS')
            $logPath = $exchangeSetupLog
            $workDir = [System.IO.Path]::GetDirectoryName($exe)
        }
    }

    $quoted = @()
    foreach ($a in $arguments) { $quoted += (ConvertTo-ExArgument $a) }
    $argumentText = $quoted -join ' '

    if ($logPath -eq $msiLog) {
        [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($msiLog))
    }

    # 5. The record, then the process.
    $token = [guid]::NewGuid().ToString('N')
    if ($token -cnotmatch '^[0-9a-f]{32}\z') { throw 'unexpected GUID text' }
    $wrapper = $jobWrapper.Replace('@@TOKEN@@', $token)
    $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($wrapper))
    $powershell = [System.IO.Path]::Combine($systemRoot, 'System32\WindowsPowerShell\v1.0\powershell.exe')
    $commandLine = $powershell + ' -NoProfile -NonInteractive -EncodedCommand ' + $encoded

    $S = [Microsoft.Win32.RegistryValueKind]::String
    $D = [Microsoft.Win32.RegistryValueKind]::DWord
    # A failed run's record is replaced whole (no value of it may leak into this run's).
    if ($null -ne $existing) { $HKLM.DeleteSubKeyTree($jobsPath + '\' + $id) }
    $key = $HKLM.CreateSubKey($jobsPath + '\' + $id)
    try {
        $key.SetValue('Action', $action, $S)
        $key.SetValue('State', 'running', $S)
        $key.SetValue('ExitCode', 0, $D)
        $key.SetValue('LogPath', $logPath, $S)
        $key.SetValue('Error', '', $S)
        $key.SetValue('Started', (ConvertTo-ExIsoTime ([datetime]::UtcNow)), $S)
        $key.SetValue('RebootRequired', 0, $D)
        $key.SetValue('MediaPath', $mediaPath, $S)
        $key.SetValue('PackagePath', $packagePath, $S)
        $key.SetValue('PatchCode', $patchCode, $S)
        $key.SetValue('KB', $kb, $S)
        $key.SetValue('Language', $language, $S)
        $key.SetValue('Group', $group, $S)
        $key.SetValue('Hint', $hint, $S)
        $key.SetValue('Exe', $exe, $S)
        $key.SetValue('Arguments', $argumentText, $S)
        $key.SetValue('WorkingDirectory', $workDir, $S)
        $key.SetValue('LogOffset', [int][Math]::Min([long](Get-ExFileLength $logPath), [long][int]::MaxValue), $D)
        $key.SetValue('PendingBefore', [int](Test-ExPendingRenames), $D)
        $key.SetValue('Token', $token, $S)
    } finally {
        $key.Close()
    }

    $created = $null
    try {
        $startup = ([wmiclass]'Win32_ProcessStartup').CreateInstance()
        $startup.ShowWindow = 0
        $created = ([wmiclass]'Win32_Process').Create($commandLine, $systemRoot, $startup)
    } catch {
        $created = $null
    }
    if ($null -eq $created -or [int]$created.ReturnValue -ne 0) {
        # Nothing runs: remove the record so that the same step can be started again.
        $HKLM.DeleteSubKeyTree($jobsPath + '\' + $id)
        $why = 'the WMI call failed'
        if ($null -ne $created) { $why = 'Win32_Process.Create returned ' + [int]$created.ReturnValue }
        Stop-ExOperation 'start_failed' ('could not start the installer wrapper for job ' + $id + ' (' + $why + ')')
    }
    $processId = [int]$created.ProcessId
    $creationDate = ''
    try {
        $proc = @(Get-WmiObject -Class Win32_Process -Filter ('ProcessId = ' + $processId) -ErrorAction Stop)
        if ($proc.Count -gt 0) { $creationDate = [string]$proc[0].CreationDate }
    } catch { }
    $key = $HKLM.OpenSubKey($jobsPath + '\' + $id, $true)
    try {
        $key.SetValue('Pid', $processId, $D)
        $key.SetValue('ProcessCreated', $creationDate, $S)
    } finally {
        $key.Close()
    }

    Write-Result $ExOperation (Read-ExJob $id)
} finally {
    Exit-ExMutex $mutex
}
