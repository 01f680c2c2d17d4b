# customizations: saves (moves aside) or restores the customisations an update overwrites
# (wire.OpCustomizations) ["How to install the latest Service Pack or Update Rollup for Exchange 2007"].
#
# Parameters: $Param_Action ("save" or "restore"), $Param_LogonFile (a Logon.aspx the user
# customised for the new build, on the server or a share it reads; "" for none).
# Result: wire.CustomizationsResult, key items: what was done ("owa_logon": the customised
# page moved aside or, on restore, kept aside; "owa_logon_file": the user's page put in
# place); empty when there was nothing to do.
# Faults: invalid (another action), not_found (LogonFile cannot be read; checked by save
# too, so that an apply stops before anything is changed).
#
# Handled: the Exchange 2007 OWA logon page, <install>\ClientAccess\Owa\auth\logon.aspx
# (<install> = HKLM\SOFTWARE\Microsoft\Exchange\Setup MsiInstallPath). Seed 000: a
# customised Logon.aspx is not updated by an SP or RU (Windows Installer does not replace an
# unversioned file that was modified after it was installed) and OWA then shows a blank page;
# rename it before the update, and re-create the customisations in the NEW file afterwards:
# copying the old file back over the new one can bring the blank page back.
# Not handled (yet): other OWA files, RPC-proxy registry settings, the UM files
# globalcfg.xml and recyclerconfig.xml, POP3/IMAP4 settings; Exchange 2000/2003 OWA.
#
# Where files go, under %SystemRoot%\Temp\ExchangeProvider\customizations\owa_logon\:
#   logon.aspx           the customised page moved aside by save (its existence is what the
#                        probe reports as leftovers saved_customizations);
#   previous\logon.aspx  where restore keeps it afterwards (an older one there is renamed
#                        previous\logon-<utc time>.aspx first, never overwritten);
#   setup\logon.aspx     the page the update wrote, kept when restore puts LogonFile in place.
# - save: when no saved copy exists, copy the live file there and then delete the live one.
#   When a saved copy exists already (a save that ran before), it is never overwritten: a
#   live file with the same content is the rest of an interrupted move (deleted now); a live
#   file with other content is the one the update wrote, and stays.
# - restore: with LogonFile, copy it over the live page unless they are equal already
#   (keeping the live page as setup\logon.aspx first). Without LogonFile, the live page
#   stays as the update wrote it; only where no page is live at all (the apply stopped
#   between the save and the install, so no update wrote one) is the saved copy put back,
#   as it was made for the build that still runs. Then the saved copy moves to previous\.
# Every step is safe to repeat after an interruption.

$ExOperation = 'customizations'

$action = [string]$Param_Action
$logonFile = [string]$Param_LogonFile
if ($action -ne 'save' -and $action -ne 'restore') {
    Stop-ExOperation 'invalid' ('the customizations action must be "save" or "restore", got "' + $action + '"')
}
if ($logonFile -ne '' -and -not [System.IO.File]::Exists($logonFile)) {
    Stop-ExOperation 'not_found' ('the OWA logon page ' + $logonFile + ' cannot be read from ' + [string]$env:COMPUTERNAME)
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
        if ($logonFile -ne '' -and (-not $liveExists -or (Get-ExFileHash $logonFile) -ne (Get-ExFileHash $live))) {
            if ($liveExists) {
                $setupDir = [System.IO.Path]::Combine($backupDir, 'setup')
                [void][System.IO.Directory]::CreateDirectory($setupDir)
                [System.IO.File]::Copy($live, [System.IO.Path]::Combine($setupDir, 'logon.aspx'), $true)
            }
            [System.IO.File]::Copy($logonFile, $live, $true)
            [void]$items.Add('owa_logon_file')
        }
        if ($savedExists) {
            if (-not [System.IO.File]::Exists($live)) {
                # No update wrote a page: the saved one is still the page of this build.
                [System.IO.File]::Copy($saved, $live, $false)
            }
            $previousDir = [System.IO.Path]::Combine($backupDir, 'previous')
            [void][System.IO.Directory]::CreateDirectory($previousDir)
            $previous = [System.IO.Path]::Combine($previousDir, 'logon.aspx')
            if ([System.IO.File]::Exists($previous)) {
                $stamp = [datetime]::UtcNow.ToString('yyyyMMddHHmmss', $ExInvariant)
                [System.IO.File]::Move($previous, [System.IO.Path]::Combine($previousDir, 'logon-' + $stamp + '.aspx'))
            }
            [System.IO.File]::Move($saved, $previous)
            [void]$items.Add('owa_logon')
        }
    }
}

Write-Result $ExOperation @{ 'items' = $items }
