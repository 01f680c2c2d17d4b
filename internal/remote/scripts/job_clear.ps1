# job_clear: forgets finished job records (wire.OpJobClear). An apply that ran every step of
# its plan clears them: a record still there afterwards means an apply did not finish, and
# the next plan continues after the install it records.
#
# Parameters: none.
# Result: wire.JobClearResult (the ids of the records removed).
#
# A running record is never removed: its installer still works, and the next apply attaches
# to it. Under the provider's mutex, like job_start, so a record being written is not read.
#
# The record that setup_watermark removed an interrupted setup's values
# (Leftovers\SetupWatermarksRemoved, prelude.ps1) goes too, unless a job still runs: the
# apply ran its whole plan, the setup run that followed the removal included.

$ExOperation = 'job_clear'

$cleared = New-Object System.Collections.ArrayList
$running = $false
$mutex = Enter-ExMutex
try {
    foreach ($job in (Get-ExJobs)) {
        if ($job['state'] -eq 'running') { $running = $true; continue }
        [Microsoft.Win32.Registry]::LocalMachine.DeleteSubKeyTree($ExProviderKey + '\Jobs\' + $job['id'])
        [void]$cleared.Add($job['id'])
    }
    if (-not $running) {
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($ExProviderKey + '\Leftovers', $true)
        if ($null -ne $key) {
            try { $key.DeleteValue('SetupWatermarksRemoved', $false) } finally { $key.Close() }
        }
    }
} finally {
    Exit-ExMutex $mutex
}

Write-Result $ExOperation @{ 'cleared' = $cleared }
