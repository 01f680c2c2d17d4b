# reboot: asks Windows to restart in a few seconds (wire.OpReboot). The
# caller then waits until a probe answers with a newer boot time.
#
# No parameters. Result: wire.RebootResult, key boot_time: the boot time before the restart
# (Win32_OperatingSystem LastBootUpTime).
# Faults: setup_running (an installer this provider started still runs, or an Exchange
# setup process runs: a restart now would break the install), failed (shutdown.exe refused).
#
# The restart: shutdown.exe /r /t 5 /d p:4:1 /c "<fixed text>": restart in 5 seconds, reason
# "planned, application: maintenance" (major 4, minor 1) for the shutdown event tracker,
# with a fixed comment. The delay lets this answer reach the provider before WinRM stops.
# shutdown.exe exit code 1190 (ERROR_SHUTDOWN_IS_SCHEDULED) means a restart is already on its
# way: that is success too. Windows 2000 has no shutdown.exe of its own (it came with the
# Resource Kit): where System32\shutdown.exe is missing, the restart goes
# through WMI, Win32_OperatingSystem.Win32Shutdown(2) (reboot, not forced), with the shutdown
# privilege enabled. That restart begins at once, so this answer may not reach the provider;
# the caller then sees the boot time change as after any restart. The transport never re-sends this operation once it started
# (internal/remote: a retry could restart the server twice).

$ExOperation = 'reboot'

foreach ($job in (Get-ExJobs)) {
    if ($job['state'] -eq 'running') {
        Stop-ExOperation 'setup_running' ('job ' + $job['id'] + ' (' + $job['action'] + ') is still running; restarting now would interrupt it')
    }
}
$setupProcesses = @(Get-Process -Name 'ExSetup', 'ExSetupUI' -ErrorAction SilentlyContinue)
if ($setupProcesses.Count -gt 0) {
    Stop-ExOperation 'setup_running' ('Exchange setup (' + $setupProcesses[0].Name + ') is running; restarting now would interrupt it')
}

$os = @(Get-WmiObject -Class Win32_OperatingSystem -ErrorAction Stop)[0]
$bootTime = [System.Management.ManagementDateTimeConverter]::ToDateTime([string]$os.LastBootUpTime)

$shutdown = [System.IO.Path]::Combine([string]$env:SystemRoot, 'System32\shutdown.exe')
if (-not [System.IO.File]::Exists($shutdown)) {
    $os.psbase.Scope.Options.EnablePrivileges = $true
    $rv = [int]($os.Win32Shutdown(2)).ReturnValue
    if ($rv -ne 0) {
        Stop-ExOperation 'failed' ('there is no shutdown.exe and Win32_OperatingSystem.Win32Shutdown(2) returned ' + $rv)
    }
    Write-Result $ExOperation @{ 'boot_time' = $bootTime }
    return
}
# ErrorActionPreference Continue around the native command: with Stop, PowerShell 2.0 turns
# a line shutdown.exe writes to stderr into a terminating error before its exit code is read.
$ErrorActionPreference = 'Continue'
$output = @(& $shutdown '/r' '/t' '5' '/d' 'p:4:1' '/c' 'Exchange servicing by terraform-provider-exchange' 2>&1 | ForEach-Object { [string]$_ })
$code = $LASTEXITCODE
$ErrorActionPreference = 'Stop'
if ($code -ne 0 -and $code -ne 1190) {
    Stop-ExOperation 'failed' ('shutdown.exe exited with code ' + $code + ': ' + (($output -join ' ').Trim()))
}

Write-Result $ExOperation @{ 'boot_time' = $bootTime }
