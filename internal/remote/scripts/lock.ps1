# lock: takes or releases the servicing lock of this server (wire.OpLock), so two applies
# never service one server at once (docs/architecture.md, "Long-running work").
#
# Parameters: $Param_Owner (string, who takes or releases), $Param_TTLSeconds (int, how long
# a taken lock lasts), $Param_Release (bool), $Param_TakeOver (string, '' or the owner of a
# lock the caller proved dead: its process is gone), $Param_KeepServiceRecord (bool, with
# Release: keep the services record).
# Result: wire.LockResult, keys held, owner, expires.
# Faults: invalid (empty owner, TTL not positive), busy (the mutex, see prelude.ps1).
#
# The lock is HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Lock, values Owner, Acquired,
# Expires (yyyy-MM-ddTHH:mm:ssZ), read back by the probe as exchange.Lock.
# - Take: when the lock is free, expired, or already Owner's; Owner's own lock is refreshed
#   (Expires moves, Acquired stays). A lock that is still exactly TakeOver's is taken as if
#   it had expired (the caller proved that owner dead; checked here, under the mutex, so a
#   lock another apply took over meanwhile is not taken from it). Held by another and not expired: held = false, and the
#   result names that owner. Not a fault: the caller decides whether to wait.
# - Release: only Owner's lock is removed; another owner's lock is left alone (held = false).
# - Taking a lock that has no ServiceStartModes value yet records the start mode and state of
#   every Exchange service (REG_MULTI_SZ "name|mode|state") before anything is serviced;
#   exchange_services reads it to put services back as they were instead of enabling services
#   an administrator keeps disabled (e.g. POP3/IMAP4, disabled by default on Exchange 2003).
#   An expired lock keeps its record: it shows the server before the unfinished apply.
#   Releasing removes the key and so the record, except with KeepServiceRecord (an apply that
#   stopped after it changed the server, perhaps with setup still running): then only the
#   lock's values go, and the record stays for the next apply, which must put the services
#   back as they were before this one, not as setup left them (Disabled).
# The read-check-write runs under the provider's mutex (Enter-ExMutex): two applies taking
# the lock at once cannot both win.

$ExOperation = 'lock'

$owner = [string]$Param_Owner
$release = [bool]$Param_Release
$takeOver = [string]$Param_TakeOver
$keepRecord = [bool]$Param_KeepServiceRecord
$ttlSeconds = 0
try { $ttlSeconds = [long]$Param_TTLSeconds } catch { $ttlSeconds = 0 }

if ($owner.Trim() -eq '') {
    Stop-ExOperation 'invalid' 'the lock owner must not be empty'
}
if (-not $release -and $ttlSeconds -le 0) {
    Stop-ExOperation 'invalid' ('the lock TTL must be a positive number of seconds, got ' + $ttlSeconds)
}

$lockPath = $ExProviderKey + '\Lock'
$HKLM = [Microsoft.Win32.Registry]::LocalMachine

$mutex = Enter-ExMutex
try {
    $now = [datetime]::UtcNow
    $current = Read-ExLock
    $ownedByCaller = ($null -ne $current -and [string]::Equals([string]$current['owner'], $owner, [System.StringComparison]::Ordinal))
    $expired = ($null -ne $current -and ($null -eq $current['expires'] -or $current['expires'] -le $now))
    if ($null -ne $current -and $takeOver -ne '' -and -not $ownedByCaller -and [string]::Equals([string]$current['owner'], $takeOver, [System.StringComparison]::Ordinal)) {
        $expired = $true
    }

    if ($release) {
        if ($ownedByCaller -and $keepRecord) {
            # The lock's values only: without Owner, Read-ExLock (and the probe) sees no lock.
            $key = $HKLM.OpenSubKey($lockPath, $true)
            if ($null -ne $key) {
                try {
                    foreach ($name in @('Owner', 'Acquired', 'Expires')) { $key.DeleteValue($name, $false) }
                } finally {
                    $key.Close()
                }
            }
            $current = $null
        } elseif ($ownedByCaller) {
            # DeleteSubKeyTree: the key and its values; absent already is fine.
            try { $HKLM.DeleteSubKeyTree($lockPath) } catch { if ($null -ne (Read-ExLock)) { throw } }
            $current = $null
        }
        $result = @{ 'held' = $false; 'owner' = ''; 'expires' = $null }
        if ($null -ne $current) {
            $result = @{ 'held' = $false; 'owner' = [string]$current['owner']; 'expires' = $current['expires'] }
        }
        Write-Result $ExOperation $result
        return
    }

    if ($null -ne $current -and -not $ownedByCaller -and -not $expired) {
        Write-Result $ExOperation @{ 'held' = $false; 'owner' = [string]$current['owner']; 'expires' = $current['expires'] }
        return
    }

    $expires = $now.AddSeconds([double]$ttlSeconds)
    $key = $HKLM.CreateSubKey($lockPath)
    try {
        if (-not $ownedByCaller -or [string]$key.GetValue('Acquired', '') -eq '') {
            $key.SetValue('Acquired', (ConvertTo-ExIsoTime $now), [Microsoft.Win32.RegistryValueKind]::String)
        }
        $key.SetValue('Owner', $owner, [Microsoft.Win32.RegistryValueKind]::String)
        $key.SetValue('Expires', (ConvertTo-ExIsoTime $expires), [Microsoft.Win32.RegistryValueKind]::String)

        if ($null -eq $key.GetValue('ServiceStartModes', $null)) {
            $snapshot = New-Object System.Collections.ArrayList
            try {
                foreach ($s in @(Get-WmiObject -Class Win32_Service -ErrorAction Stop)) {
                    if (Test-ExExchangeService $s) {
                        [void]$snapshot.Add([string]$s.Name + '|' + [string]$s.StartMode + '|' + ([string]$s.State).Replace(' ', ''))
                    }
                }
                $key.SetValue('ServiceStartModes', [string[]]$snapshot.ToArray([string]), [Microsoft.Win32.RegistryValueKind]::MultiString)
            } catch {
                # Without a record exchange_services falls back to its default; the lock
                # itself must not fail over it.
            }
        }
    } finally {
        $key.Close()
    }

    # Read back what is stored, so the answer is what the probe will see. The Expires
    # written has whole seconds, as the probe reads it.
    $stored = Read-ExLock
    Write-Result $ExOperation @{ 'held' = $true; 'owner' = [string]$stored['owner']; 'expires' = $stored['expires'] }
} finally {
    Exit-ExMutex $mutex
}
