# owa_check: asks the server's own Outlook Web Access for its logon page and says what came
# back (wire.OpOWACheck) ["How to install the latest Service Pack or Update Rollup for Exchange 2007": after the update, log on to OWA to check
# that it works; a customised Logon.aspx made for the old build shows a blank page].
#
# Parameters: none. The address is fixed: https://localhost/owa/auth/logon.aspx, the
# forms-based logon page of Exchange 2007 OWA, asked for from the server itself over its
# loopback interface (port 443 of 127.0.0.1, Host: localhost), without credentials.
# Result: wire.OWACheckResult, keys url, status (HTTP status code, 0 when nothing answered),
# logon_form (the body holds an HTML form), length (bytes of body), error (why nothing
# answered), certificate_errors (what validating the server's certificate found).
# Faults: none: the executor judges the answer.
#
# Certificate: the name on the server's OWA certificate is its public name, never
# "localhost", so validation by name must fail here. The connection goes to the loopback
# interface of the very server the script runs on, sends no credentials and reads a page
# anyone may read, so the certificate is accepted whatever its errors, and the errors are
# reported (certificate_errors) rather than hidden. This is the one place where a script
# accepts an unverified certificate; nothing else uses this connection.
#
# How: a TcpClient and an SslStream with a plain HTTP/1.1 GET ("Connection: close", no
# Accept-Encoding, so the body is not compressed). SslStream's synchronous handshake runs the
# validation callback on this thread, where PowerShell 2.0 can run a script block (a
# callback on another thread has no runspace). Bounded: 15 s to connect and 30 s per read.

$ExOperation = 'owa_check'

$url = 'https://localhost/owa/auth/logon.aspx'
$result = @{
    'url'                = $url
    'status'             = 0
    'logon_form'         = $false
    'length'             = 0
    'error'              = ''
    'certificate_errors' = ''
}

$script:certErrors = ''
$client = $null
$ssl = $null
try {
    $client = New-Object System.Net.Sockets.TcpClient
    $async = $client.BeginConnect('127.0.0.1', 443, $null, $null)
    if (-not $async.AsyncWaitHandle.WaitOne(15000, $false)) {
        throw 'nothing answered on 127.0.0.1:443 within 15 seconds'
    }
    $client.EndConnect($async)
    $client.ReceiveTimeout = 30000
    $client.SendTimeout = 30000
    $accept = [System.Net.Security.RemoteCertificateValidationCallback] {
        param($sender, $certificate, $chain, $errors)
        $script:certErrors = [string]$errors
        return $true
    }
    $ssl = New-Object System.Net.Security.SslStream($client.GetStream(), $false, $accept)
    $ssl.AuthenticateAsClient('localhost')
    $request = "GET /owa/auth/logon.aspx HTTP/1.1`r`nHost: localhost`r`nUser-Agent: terraform-provider-exchange owa_check`r`nConnection: close`r`n`r`n"
    $bytes = [System.Text.Encoding]::ASCII.GetBytes($request)
    $ssl.Write($bytes, 0, $bytes.Length)
    $ssl.Flush()
    $buffer = New-Object byte[] 8192
    $memory = New-Object System.IO.MemoryStream
    while ($true) {
        $n = $ssl.Read($buffer, 0, $buffer.Length)
        if ($n -le 0) { break }
        $memory.Write($buffer, 0, $n)
        if ($memory.Length -gt 4194304) { break } # 4 MB: a logon page is far smaller
    }
    $text = [System.Text.Encoding]::UTF8.GetString($memory.ToArray())
    $headerEnd = $text.IndexOf("`r`n`r`n")
    $statusLine = $text
    if ($text.IndexOf("`r`n") -ge 0) { $statusLine = $text.Substring(0, $text.IndexOf("`r`n")) }
    $m = [regex]::Match($statusLine, '^HTTP/\d\.\d\s+(\d{3})')
    if (-not $m.Success) { throw ('the answer is not HTTP: ' + $statusLine) }
    $result['status'] = [int]$m.Groups[1].Value
    $body = ''
    if ($headerEnd -ge 0) { $body = $text.Substring($headerEnd + 4) }
    $result['length'] = $body.Length
    $result['logon_form'] = ($body -match '(?i)<form\b')
} catch {
    $result['error'] = [string]$_.Exception.Message
} finally {
    if ($null -ne $ssl) { $ssl.Close() }
    if ($null -ne $client) { $client.Close() }
}
$result['certificate_errors'] = $script:certErrors

Write-Result $ExOperation $result
