# setup_watermark: clears an interrupted Exchange 2007 setup's Action and Watermark values on
# the user's opt-in (wire.OpSetupWatermark; clear_setup_watermark of exchange_service_pack).
# Setup refuses to start again while a role's key under HKLM\SOFTWARE\Microsoft\Exchange\v8.0
# holds them, taking them for another setup still running, e.g. in another terminal-server
# session (msxfaq.de, "Service Packs fuer Exchange 2007",
# https://www.msxfaq.de/exchange/update/servicepack2007sp1.htm, "Registry Action"): the way
# out is to make sure none runs, export the key so it can be put back, delete those values.
#
# Parameters: $Param_Action ('check', 'export' or 'remove'), $Param_Key (the subkey of v8.0,
# e.g. MailboxRole; '' for check), $Param_File (export: a file name, e.g.
# MailboxRole-0a1b2c3d.reg, in %SystemRoot%\Temp\ExchangeProvider\setup_keys; '' otherwise).
# Result: wire.SetupWatermarkResult, keys key, file, exported, removed.
# Faults: invalid (an action, key or file name that cannot be right), setup_running (what
# Get-ExSetupRunning finds), not_found (export: no such key), failed (reg.exe did not export).
#
# Each action first checks, under the provider's mutex (so that no job_start starts
# meanwhile), that no setup or installation runs.
# check: nothing more.
# export: a file of that name is kept as it is (an earlier run exported the same values: the
# planner names the file after a digest of them) and nothing is written. Else
# %SystemRoot%\System32\reg.exe export "HKLM\<key>" "<file>.partial", then the file renamed
# into place, so that an interrupted export never leaves a file that looks complete
# (Microsoft, Windows commands, "reg export": reg export <keyname> <filename>). No /y: the
# .partial file was just deleted, so reg.exe has nothing to ask about overwriting.
# remove: deletes the key's Action and Watermark values where present; nothing else is
# touched (ConfiguredVersion and UnpackedVersion stay). A missing key or missing values are
# nothing to do. Before it deletes any, it records the key's name in the provider's
# Leftovers (SetupWatermarksRemoved, prelude.ps1): once the values are gone nothing of
# Exchange's own shows that setup did not finish, so an apply stopped before setup ran again
# would leave a server that looks finished. The probe reports the record; job_clear (an
# apply that ran its whole plan, setup included) forgets it.

$ExOperation = 'setup_watermark'

$action = [string]$Param_Action
$keyName = [string]$Param_Key
$fileName = [string]$Param_File

if ($action -ne 'check' -and $action -ne 'export' -and $action -ne 'remove') {
    Stop-ExOperation 'invalid' ('the setup_watermark action must be "check", "export" or "remove", got "' + $action + '"')
}
# \z, not $: in .NET regular expressions $ also matches before a final newline.
if ($action -ne 'check' -and $keyName -notmatch '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\z') {
    Stop-ExOperation 'invalid' ('"' + $keyName + '" is not a setup key name (letters, digits, dash and underscore, at most 64)')
}
if ($action -eq 'export' -and $fileName -notmatch '^[A-Za-z0-9][A-Za-z0-9_-]{0,79}\.reg\z') {
    Stop-ExOperation 'invalid' ('"' + $fileName + '" is not an export file name (letters, digits, dash and underscore, then .reg)')
}

$keyPath = ''
$removed = New-Object System.Collections.ArrayList
$result = @{ 'key' = ''; 'file' = ''; 'exported' = $false; 'removed' = $removed }
if ($action -ne 'check') {
    $keyPath = 'SOFTWARE\Microsoft\Exchange\v8.0\' + $keyName
    $result['key'] = 'HKLM\' + $keyPath
}
$HKLM = [Microsoft.Win32.Registry]::LocalMachine

$mutex = Enter-ExMutex
try {
    $running = Get-ExSetupRunning
    if ($running -ne '') { Stop-ExOperation 'setup_running' $running }

    if ($action -eq 'export') {
        $folder = [System.IO.Path]::Combine([string]$env:SystemRoot, 'Temp\ExchangeProvider\setup_keys')
        $file = [System.IO.Path]::Combine($folder, $fileName)
        $result['file'] = $file
        if (-not [System.IO.File]::Exists($file)) {
            $key = $HKLM.OpenSubKey($keyPath)
            if ($null -eq $key) { Stop-ExOperation 'not_found' ('there is no key HKLM\' + $keyPath) }
            $key.Close()
            [void][System.IO.Directory]::CreateDirectory($folder)
            $partial = $file + '.partial'
            if ([System.IO.File]::Exists($partial)) { [System.IO.File]::Delete($partial) }
            # Key and file are checked above and hold no quote; each is one quoted argument.
            $info = New-Object System.Diagnostics.ProcessStartInfo
            $info.FileName = [System.IO.Path]::Combine([string]$env:SystemRoot, 'System32\reg.exe')
            $info.Arguments = 'export "HKLM\' + $keyPath + '" "' + $partial + '"'
            $info.UseShellExecute = $false
            $info.CreateNoWindow = $true
            $info.RedirectStandardOutput = $true
            $info.RedirectStandardError = $true
            $process = [System.Diagnostics.Process]::Start($info)
            $said = $process.StandardOutput.ReadToEnd() + $process.StandardError.ReadToEnd()
            $process.WaitForExit()
            if ($process.ExitCode -ne 0 -or -not [System.IO.File]::Exists($partial)) {
                Stop-ExOperation 'failed' ('reg.exe export HKLM\' + $keyPath + ' exited with ' + $process.ExitCode + ': ' + $said.Trim())
            }
            [System.IO.File]::Move($partial, $file)
            $result['exported'] = $true
        }
    }

    if ($action -eq 'remove') {
        $key = $HKLM.OpenSubKey($keyPath, $true)
        if ($null -ne $key) {
            try {
                foreach ($valueName in @($key.GetValueNames())) {
                    if ($valueName -eq 'Action' -or $valueName -eq 'Watermark') {
                        Set-ExLeftoverListItem 'SetupWatermarksRemoved' $keyName
                        break
                    }
                }
                foreach ($valueName in @($key.GetValueNames())) {
                    if ($valueName -eq 'Action' -or $valueName -eq 'Watermark') {
                        [void]$removed.Add($valueName + ' = ' + [string]$key.GetValue($valueName))
                        $key.DeleteValue($valueName)
                    }
                }
            } finally {
                $key.Close()
            }
        }
    }
} finally {
    Exit-ExMutex $mutex
}

Write-Result $ExOperation $result
