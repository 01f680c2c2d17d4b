# job_status: reads one job record (wire.OpJobStatus): what a detached installer run that
# job_start began is doing, or how it ended.
#
# Parameters: $Param_ID (the job id, exchange.JobID).
# Result: exchange.Job (Read-ExJob in prelude.ps1: the record under
# HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Jobs\<id>; a running record whose process is
# gone reads as failed).
# Faults: not_found (no such record), invalid (an id that cannot be a job id).
#
# Read-only: it never changes the record.

$ExOperation = 'job_status'

$id = [string]$Param_ID
# \z, not $: in .NET regular expressions $ also matches before a final newline.
if ($id -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z') {
    Stop-ExOperation 'invalid' ('"' + $id + '" is not a job id (letters, digits, dot, dash and underscore, at most 128)')
}

$job = Read-ExJob $id
if ($null -eq $job) {
    Stop-ExOperation 'not_found' ('no job ' + $id + ' on ' + [string]$env:COMPUTERNAME)
}

Write-Result $ExOperation $job
