# job_clear: forgets finished job records (wire.OpJobClear). An apply that ran every step of
# its plan clears them: a record still there afterwards means an apply did not finish, and
# the next plan continues after the install it records.
#
# Parameters: none.
# Result: wire.JobClearResult (the ids of the records removed).
#
# A running record is never removed: its installer still works, and the next apply attaches
# to it. Under the provider's mutex, like job_start, so a record being written is not read.

$ExOperation = 'job_clear'

$cleared = New-Object System.Collections.ArrayList
$mutex = Enter-ExMutex
try {
    foreach ($job in (Get-ExJobs)) {
        if ($job['state'] -eq 'running') { continue }
        [Microsoft.Win32.Registry]::LocalMachine.DeleteSubKeyTree($ExProviderKey + '\Jobs\' + $job['id'])
        [void]$cleared.Add($job['id'])
    }
} finally {
    Exit-ExMutex $mutex
}

Write-Result $ExOperation @{ 'cleared' = $cleared }
