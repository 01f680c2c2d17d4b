# preflight: checks, before an apply changes anything, what its steps will read
# (wire.OpPreflight). Read-only: it opens files and folders for reading and changes nothing.
#
# Parameters: $Param_Checks (wire.PreflightChecks: one check a line, its fields job id, action,
# media path and package path separated by tabs; a path holds no tab, CR or LF).
# Result: wire.PreflightResult, one item per check: found (what was opened and read), skipped
# (why it was not checked), problem (why the step would fail).
# Faults: invalid (a check that cannot be right: its fields, id, action or a path).
#
# Each check:
# 1. An installer check whose job record (Read-ExJob, prelude.ps1) exists and did not fail is
#    skipped: job_start.ps1 attaches to that job and starts no installer.
# 2. The installer is found as job_start.ps1 finds it (Find-ExInstaller, prelude.ps1), and it
#    and the folder it reads are opened for reading; read_file opens the file.
# 3. The media must match the server where a script can read both (else not checked):
#    - Exchange 2007 service pack media (install_service_pack, upgrade_cms): the media's
#      Setup\ServerRoles\Common\ExSetup.exe against the installed <MsiInstallPath>\bin\ExSetup.exe:
#      the machine type of their PE headers (x86 or x64; Microsoft's "PE Format"
#      specification, IMAGE_FILE_HEADER Machine) and the language of their version resources
#      (System.Diagnostics.FileVersionInfo.Language). Service packs come per language and for
#      32 and 64 bit ("Service Packs fuer Exchange 2007"); that the same file of two builds shows the difference is our
#      reading, so a value that cannot be read, or that is language neutral, is not compared.
#    - Exchange 2007 update packages (.msp): Microsoft names them with their architecture
#      (e.g. Exchange2007-KB976108-x64-EN.msp); a name token x86 or x64 is compared with the
#      installed ExSetup.exe's machine type, else the operating system's (PROCESSOR_ARCHITEW6432,
#      else PROCESSOR_ARCHITECTURE: "WOW64 Implementation Details", Microsoft Learn). The
#      installer itself refuses a package of the other architecture ("Troubleshooting Update
#      Rollup Installations", TechNet ff772434), but only after the steps before it ran.
#    - Exchange 2000/2003/5.5 media are not compared: they run on 32-bit Windows only
#      (KB 924046), and no file the media and the server share is documented to show the
#      language.

$ExOperation = 'preflight'

$checkActions = @('install_service_pack', 'install_update_rollup', 'install_interim_update',
    'remove_um_language_pack', 'add_um_language_pack', 'upgrade_cms', 'read_file')

$HKLM = [Microsoft.Win32.Registry]::LocalMachine
$installPath = ''
$setupKey = $HKLM.OpenSubKey('SOFTWARE\Microsoft\Exchange\Setup')
if ($null -ne $setupKey) {
    try { $installPath = [string]$setupKey.GetValue('MsiInstallPath', '') } finally { $setupKey.Close() }
}
$installedSetup = ''
if ($installPath -ne '') { $installedSetup = [System.IO.Path]::Combine($installPath, 'bin\ExSetup.exe') }
$is2007 = ($installedSetup -ne '' -and [System.IO.File]::Exists($installedSetup))

# Test-ExReadable opens a file (or lists a folder) for reading: '' when it can, else why not.
function Test-ExReadable {
    param([string]$Path)
    try {
        if ([System.IO.Directory]::Exists($Path)) {
            [void][System.IO.Directory]::GetFileSystemEntries($Path)
            return ''
        }
        $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::ReadWrite)
        $stream.Close()
        return ''
    } catch {
        return ($Path + ' cannot be read from ' + [string]$env:COMPUTERNAME + ': ' + $_.Exception.Message)
    }
}

# Get-ExMachine is the machine type of an executable's PE header (x86, x64, ia64), '' when
# it cannot be read. PE Format: the offset of the 'PE\0\0' signature is at 0x3C; the COFF
# header's Machine follows it: 0x14C i386, 0x8664 AMD64, 0x200 IA64.
function Get-ExMachine {
    param([string]$Path)
    try {
        if (-not [System.IO.File]::Exists($Path)) { return '' }
        $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::ReadWrite)
        try {
            if ($stream.Length -lt 64) { return '' }
            $reader = New-Object System.IO.BinaryReader($stream)
            [void]$stream.Seek(0x3C, [System.IO.SeekOrigin]::Begin)
            $pe = [long]$reader.ReadInt32()
            if ($pe -lt 0 -or $pe + 6 -gt $stream.Length) { return '' }
            [void]$stream.Seek($pe, [System.IO.SeekOrigin]::Begin)
            if ($reader.ReadUInt32() -ne 0x4550) { return '' }
            $machine = [int]$reader.ReadUInt16()
            if ($machine -eq 0x14C) { return 'x86' }
            if ($machine -eq 0x8664) { return 'x64' }
            if ($machine -eq 0x200) { return 'ia64' }
        } finally {
            $stream.Close()
        }
    } catch { }
    return ''
}

# Get-ExFileLanguage is the language of a file's version resource, '' when none can be read
# or it is language neutral.
function Get-ExFileLanguage {
    param([string]$Path)
    try {
        if (-not [System.IO.File]::Exists($Path)) { return '' }
        $language = [string]([System.Diagnostics.FileVersionInfo]::GetVersionInfo($Path).Language)
        if ($language -match 'neutral') { return '' }
        return $language
    } catch { }
    return ''
}

# Get-ExServerMachine: the installed Exchange 2007's ExSetup.exe machine type, else the
# operating system's architecture (a 32-bit process on 64-bit Windows sees x86 in
# PROCESSOR_ARCHITECTURE and the real one in PROCESSOR_ARCHITEW6432).
function Get-ExServerMachine {
    $m = Get-ExMachine $installedSetup
    if ($m -ne '') { return $m }
    $arch = [string]$env:PROCESSOR_ARCHITEW6432
    if ($arch -eq '') { $arch = [string]$env:PROCESSOR_ARCHITECTURE }
    if ($arch -eq 'AMD64') { return 'x64' }
    if ($arch -eq 'x86') { return 'x86' }
    if ($arch -eq 'IA64') { return 'ia64' }
    return ''
}

# Get-ExMediaMismatch says how the media or package of an installer check does not match
# the server, '' when it matches or cannot be told (see the header).
function Get-ExMediaMismatch {
    param([string]$Action, [string]$MediaPath, [string]$Exe)
    if (-not $is2007) { return '' }
    if ($Action -eq 'install_service_pack' -or $Action -eq 'upgrade_cms') {
        $media = [System.IO.Path]::Combine($MediaPath, 'Setup\ServerRoles\Common\ExSetup.exe')
        $mediaMachine = Get-ExMachine $media
        $serverMachine = Get-ExMachine $installedSetup
        if ($mediaMachine -ne '' -and $serverMachine -ne '' -and $mediaMachine -ne $serverMachine) {
            return ('the media is for ' + $mediaMachine + ' (' + $media + '), the Exchange 2007 installed on ' + [string]$env:COMPUTERNAME +
                ' for ' + $serverMachine + ' (' + $installedSetup + '): use the ' + $serverMachine + ' service pack media')
        }
        $mediaLanguage = Get-ExFileLanguage $media
        $serverLanguage = Get-ExFileLanguage $installedSetup
        if ($mediaLanguage -ne '' -and $serverLanguage -ne '' -and $mediaLanguage -ne $serverLanguage) {
            return ('the media is in ' + $mediaLanguage + ' (' + $media + '), the Exchange 2007 installed on ' + [string]$env:COMPUTERNAME +
                ' in ' + $serverLanguage + ' (' + $installedSetup + '): use the service pack media in the server''s language')
        }
        return ''
    }
    if (($Action -eq 'install_update_rollup' -or $Action -eq 'install_interim_update') -and $Exe -match '(?i)\.msp\z') {
        $name = [System.IO.Path]::GetFileNameWithoutExtension($Exe)
        $named = ''
        if ($name -match '(?i)(^|[-_.])x64([-_.]|\z)') { $named = 'x64' }
        if ($name -match '(?i)(^|[-_.])x86([-_.]|\z)') { $named = 'x86' }
        $serverMachine = Get-ExServerMachine
        if ($named -ne '' -and $serverMachine -ne '' -and $named -ne $serverMachine) {
            return ('the package is named for ' + $named + ', and Exchange 2007 on ' + [string]$env:COMPUTERNAME + ' runs on ' + $serverMachine +
                ': use the ' + $serverMachine + ' package (its installer refuses the other one)')
        }
    }
    return ''
}

$items = New-Object System.Collections.ArrayList
foreach ($line in (([string]$Param_Checks) -split "`n")) {
    $fields = $line.Split([char]9)
    if ($fields.Count -ne 4) { Stop-ExOperation 'invalid' ('a check has ' + $fields.Count + ' fields, not 4 (job id, action, media path, package path)') }
    $id = $fields[0]
    $action = $fields[1]
    $mediaPath = $fields[2]
    $packagePath = $fields[3]
    if ($checkActions -notcontains $action) {
        Stop-ExOperation 'invalid' ('"' + $action + '" is not a preflight check (' + ($checkActions -join ', ') + ')')
    }
    if ($action -ne 'read_file' -and $id -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z') {
        Stop-ExOperation 'invalid' ('"' + $id + '" is not a job id (letters, digits, dot, dash and underscore, at most 128)')
    }
    foreach ($p in @($mediaPath, $packagePath)) {
        if ($p -match $ExPathForbiddenPattern) { Stop-ExOperation 'invalid' ('path "' + $p + '" holds a double quote or a control character') }
    }
    $mediaPath = $mediaPath.Trim()
    $packagePath = $packagePath.Trim()

    $item = @{ 'found' = (New-Object System.Collections.ArrayList); 'skipped' = ''; 'problem' = '' }
    [void]$items.Add($item)
    if ($action -eq 'read_file') {
        $why = 'no file named'
        if ($packagePath -ne '') {
            $why = Test-ExReadable $packagePath
            if ($why -eq '' -and -not [System.IO.File]::Exists($packagePath)) { $why = 'file not found: ' + $packagePath }
        }
        if ($why -eq '') { [void]$item['found'].Add($packagePath) } else { $item['problem'] = $why }
        continue
    }
    $job = Read-ExJob $id
    if ($null -ne $job -and $job['state'] -ne 'failed') {
        $item['skipped'] = 'job ' + $id + ' exists (' + $job['state'] + '): the apply attaches to it and starts no installer'
        continue
    }
    $found = Find-ExInstaller $action $mediaPath $packagePath $installPath $is2007
    if ($found['Problem'] -ne '') {
        $item['problem'] = $found['Problem']
        continue
    }
    foreach ($read in @($found['Reads'])) {
        $why = Test-ExReadable ([string]$read)
        if ($why -ne '') { $item['problem'] = $why; break }
        [void]$item['found'].Add([string]$read)
    }
    if ($item['problem'] -eq '') { $item['problem'] = Get-ExMediaMismatch $action $mediaPath ([string]$found['Exe']) }
}

Write-Result $ExOperation @{ 'items' = $items }
