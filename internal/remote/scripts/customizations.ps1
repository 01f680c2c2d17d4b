# customizations: saves (moves aside) or restores the customisations an update overwrites
# (wire.OpCustomizations) [domain.md 2.11, 5.3, 5.11; seed 000].
#
# Parameters: $Param_Action ("save" or "restore").
# Result: wire.CustomizationsResult, key items: what was saved or restored ("owa_logon");
# empty when there was nothing to do.
# Faults: invalid (another action).
#
# Handled: the Exchange 2007 OWA logon page, <install>\ClientAccess\Owa\auth\logon.aspx
# (<install> = HKLM\SOFTWARE\Microsoft\Exchange\Setup MsiInstallPath). Seed 000: a
# customised Logon.aspx is not updated by an SP or RU (Windows Installer does not replace an
# unversioned file that was modified after it was installed) and OWA then shows a blank page;
# rename it before the update. So "save" MOVES it aside (a copy alone would leave the
# customised file in place, and the update would skip it again), and "restore" puts it back.
# Not handled (yet): other OWA files, RPC-proxy registry settings, the UM files
# globalcfg.xml and recyclerconfig.xml, POP3/IMAP4 settings; Exchange 2000/2003 OWA.
#
# The saved copy: %SystemRoot%\Temp\ExchangeProvider\customizations\owa_logon\logon.aspx.
# - save: when no saved copy exists, copy the live file there and then delete the live one.
#   When a saved copy exists already (a save that ran before), it is never overwritten: a
#   live file with the same content is the rest of an interrupted move (deleted now); a live
#   file with other content is the one the update wrote, and stays.
# - restore: when a saved copy exists, copy it over the live file (keeping the file the
#   update wrote as restored-<time>\logon.aspx.setup), then move the saved copy into
#   restored-<time>\, so a later save starts afresh and a later restore does nothing.
#   Restoring the old page onto a new build is what the user asked for; seed 000 advises
#   re-applying the customisation to the new page instead, which needs a person.
# Every step is safe to repeat after an interruption.

$ExOperation = 'customizations'

$action = [string]$Param_Action
if ($action -ne 'save' -and $action -ne 'restore') {
    Stop-ExOperation 'invalid' ('the customizations action must be "save" or "restore", got "' + $action + '"')
}

$items = New-Object System.Collections.ArrayList

function Get-ExFileHash {
    param([string]$Path)
    # SHA-1 from the CryptoServiceProvider class: MD5 and the managed SHA classes throw on a
    # server with the FIPS policy on.
    $sha = New-Object System.Security.Cryptography.SHA1CryptoServiceProvider
    try {
        return [Convert]::ToBase64String($sha.ComputeHash([System.IO.File]::ReadAllBytes($Path)))
    } finally {
        $sha.Clear()
    }
}

$installPath = ''
$setupKey = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SOFTWARE\Microsoft\Exchange\Setup')
if ($null -ne $setupKey) {
    try { $installPath = [string]$setupKey.GetValue('MsiInstallPath', '') } finally { $setupKey.Close() }
}

# The saved copy's existence is also what the probe reports as leftovers
# saved_customizations (moved aside and not restored).
$saved = Get-ExSavedLogonPath
$backupDir = [System.IO.Path]::GetDirectoryName($saved)

if ($installPath -ne '' -and [System.IO.Directory]::Exists([System.IO.Path]::Combine($installPath, 'ClientAccess\Owa\auth'))) {
    $live = [System.IO.Path]::Combine($installPath, 'ClientAccess\Owa\auth\logon.aspx')
    $liveExists = [System.IO.File]::Exists($live)
    $savedExists = [System.IO.File]::Exists($saved)

    if ($action -eq 'save') {
        if (-not $savedExists -and $liveExists) {
            [void][System.IO.Directory]::CreateDirectory($backupDir)
            $partial = $saved + '.partial'
            [System.IO.File]::Copy($live, $partial, $true)
            if ((Get-ExFileHash $partial) -ne (Get-ExFileHash $live)) {
                throw ('the copy of ' + $live + ' differs from the original; nothing was moved')
            }
            [System.IO.File]::Move($partial, $saved)
            [System.IO.File]::Delete($live)
            [void]$items.Add('owa_logon')
        } elseif ($savedExists -and $liveExists -and (Get-ExFileHash $saved) -eq (Get-ExFileHash $live)) {
            # An earlier save copied the file but stopped before deleting the original.
            [System.IO.File]::Delete($live)
            [void]$items.Add('owa_logon')
        }
    } else {
        if ($savedExists) {
            $archive = [System.IO.Path]::Combine($backupDir, 'restored-' + [datetime]::UtcNow.ToString('yyyyMMddHHmmss', $ExInvariant))
            [void][System.IO.Directory]::CreateDirectory($archive)
            if ($liveExists -and (Get-ExFileHash $saved) -ne (Get-ExFileHash $live)) {
                [System.IO.File]::Copy($live, [System.IO.Path]::Combine($archive, 'logon.aspx.setup'), $true)
            }
            if (-not $liveExists -or (Get-ExFileHash $saved) -ne (Get-ExFileHash $live)) {
                [System.IO.File]::Copy($saved, $live, $true)
            }
            [System.IO.File]::Move($saved, [System.IO.Path]::Combine($archive, 'logon.aspx'))
            [void]$items.Add('owa_logon')
        }
    }
}

Write-Result $ExOperation @{ 'items' = $items }
