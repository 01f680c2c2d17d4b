# prelude: shared by every operation (docs/architecture.md, "The PowerShell contract").
#
# Target: Windows PowerShell 2.0. No ConvertTo-Json, no [ordered], no -in, no ::new(), no
# classes. This file must stay ASCII-only: the console code page would mangle anything else
# (scripts_test.go checks it).
#
# The text that runs is: a header comment, the parameters as $Param_<Name> = <literal>, this
# prelude, then the operation body, all in ONE script block (wire.Script.Render). So the trap
# below covers the body, and the body's first statement sets $ExOperation to its own name.
#
# Output contract: exactly one line, wire.ResultMarker followed by the envelope JSON:
#   {"operation":"<op>","ok":true,"result":<value>}
#   {"operation":"<op>","ok":false,"fault":{"code":"<code>","message":"<text>"}}
# Everything else a script prints is noise that the reader skips.

$ErrorActionPreference = 'Stop'

# The operation name used by the trap; each body overwrites it first thing.
$ExOperation = 'unknown'

# Must equal wire.ResultMarker (scripts_test.go checks it).
$ExResultMarker = '#EXCHANGE-RESULT#'

$ExInvariant = [System.Globalization.CultureInfo]::InvariantCulture

# Add-ExJsonString appends $Text as a JSON string. Every character outside printable ASCII
# (below 0x20, and 0x7F and above) is written as \uXXXX, so the line is pure ASCII whatever
# the console code page; a character outside the BMP is a UTF-16 surrogate pair in .NET and
# so becomes two \uXXXX escapes, which is exactly how JSON spells it.
function Add-ExJsonString {
    param([System.Text.StringBuilder]$Builder, [string]$Text)
    [void]$Builder.Append('"')
    foreach ($ch in $Text.ToCharArray()) {
        $code = [int]$ch
        if ($code -eq 34) {
            [void]$Builder.Append('\"')
        } elseif ($code -eq 92) {
            [void]$Builder.Append('\\')
        } elseif ($code -lt 32 -or $code -gt 126) {
            [void]$Builder.Append('\u')
            [void]$Builder.Append($code.ToString('x4', $ExInvariant))
        } else {
            [void]$Builder.Append($ch)
        }
    }
    [void]$Builder.Append('"')
}

# Add-ExJson appends $Value as JSON. Values are passed as arguments, never through the
# pipeline, so PowerShell never unrolls an empty or one-element array here: an empty
# collection is written [] and a one-element collection [x].
function Add-ExJson {
    param([System.Text.StringBuilder]$Builder, $Value, [int]$Depth)
    if ($Depth -gt 64) {
        throw 'ConvertTo-ExJson: value nested deeper than 64 levels'
    }
    # $null first, and on the left: "$x -eq $null" filters when $x is an array.
    if ($null -eq $Value -or $Value -is [System.DBNull]) {
        [void]$Builder.Append('null')
        return
    }
    if ($Value -is [System.Boolean]) {
        if ($Value) { [void]$Builder.Append('true') } else { [void]$Builder.Append('false') }
        return
    }
    if ($Value -is [System.Management.Automation.SwitchParameter]) {
        if ($Value.IsPresent) { [void]$Builder.Append('true') } else { [void]$Builder.Append('false') }
        return
    }
    if ($Value -is [System.String] -or $Value -is [System.Char]) {
        Add-ExJsonString $Builder ([string]$Value)
        return
    }
    if ($Value -is [System.Enum] -or $Value -is [System.Guid] -or $Value -is [System.Version] -or
        $Value -is [System.TimeSpan] -or $Value -is [System.Uri]) {
        Add-ExJsonString $Builder $Value.ToString()
        return
    }
    if ($Value -is [System.DateTime] -or $Value -is [System.DateTimeOffset]) {
        # UTC, whole seconds: yyyy-MM-ddTHH:mm:ssZ (RFC 3339, read by Go's time.Time).
        # A DateTime of kind Unspecified is taken as local time, as WMI and .NET return it.
        if ($Value -is [System.DateTimeOffset]) { $utc = $Value.UtcDateTime } else { $utc = $Value.ToUniversalTime() }
        Add-ExJsonString $Builder $utc.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", $ExInvariant)
        return
    }
    if ($Value -is [System.Byte] -or $Value -is [System.SByte] -or $Value -is [System.Int16] -or
        $Value -is [System.UInt16] -or $Value -is [System.Int32] -or $Value -is [System.UInt32] -or
        $Value -is [System.Int64] -or $Value -is [System.UInt64]) {
        [void]$Builder.Append($Value.ToString($ExInvariant))
        return
    }
    if ($Value -is [System.Double] -or $Value -is [System.Single]) {
        # JSON has no NaN or infinity.
        if ([double]::IsNaN($Value) -or [double]::IsInfinity($Value)) {
            [void]$Builder.Append('null')
        } else {
            [void]$Builder.Append($Value.ToString('R', $ExInvariant))
        }
        return
    }
    if ($Value -is [System.Decimal]) {
        [void]$Builder.Append($Value.ToString($ExInvariant))
        return
    }
    if ($Value -is [System.Collections.IDictionary]) {
        # Keys as given. GetEnumerator, not .Keys: a hashtable with a key named "Keys" would
        # answer .Keys with that entry's value.
        [void]$Builder.Append('{')
        $first = $true
        foreach ($entry in $Value.GetEnumerator()) {
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-ExJsonString $Builder ([string]$entry.Key)
            [void]$Builder.Append(':')
            Add-ExJson $Builder $entry.Value ($Depth + 1)
        }
        [void]$Builder.Append('}')
        return
    }
    if ($Value.PSObject.BaseObject -is [System.Management.Automation.PSCustomObject]) {
        # New-Object PSObject -Property @{...} and Select-Object output: their NoteProperties.
        [void]$Builder.Append('{')
        $first = $true
        foreach ($property in $Value.PSObject.Properties) {
            if ($property.MemberType -ne 'NoteProperty') { continue }
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-ExJsonString $Builder $property.Name
            [void]$Builder.Append(':')
            Add-ExJson $Builder $property.Value ($Depth + 1)
        }
        [void]$Builder.Append('}')
        return
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        [void]$Builder.Append('[')
        $first = $true
        foreach ($item in $Value) {
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-ExJson $Builder $item ($Depth + 1)
        }
        [void]$Builder.Append(']')
        return
    }
    # Anything else (a WMI or .NET object that slipped through) is written as its text.
    Add-ExJsonString $Builder $Value.ToString()
}

# ConvertTo-ExJson returns $Value as one line of ASCII JSON.
function ConvertTo-ExJson {
    param($Value)
    $builder = New-Object System.Text.StringBuilder
    Add-ExJson $builder $Value 0
    return $builder.ToString()
}

# Write-ExLine writes one line straight to stdout. [Console]::Out, not the pipeline: the
# host's formatter may wrap or truncate long lines to the console width; this does not.
function Write-ExLine {
    param([string]$Line)
    [Console]::Out.WriteLine($Line)
    [Console]::Out.Flush()
}

# Write-Result writes the success envelope of $Operation with $Value as its result.
function Write-Result {
    param([string]$Operation, $Value)
    $builder = New-Object System.Text.StringBuilder
    [void]$builder.Append('{"operation":')
    Add-ExJsonString $builder $Operation
    [void]$builder.Append(',"ok":true,"result":')
    Add-ExJson $builder $Value 0
    [void]$builder.Append('}')
    Write-ExLine ($ExResultMarker + $builder.ToString())
}

# Write-Fault writes the fault envelope of $Operation: a code the Go side switches on and a
# message for people.
function Write-Fault {
    param([string]$Operation, [string]$Code, [string]$Message)
    $builder = New-Object System.Text.StringBuilder
    [void]$builder.Append('{"operation":')
    Add-ExJsonString $builder $Operation
    [void]$builder.Append(',"ok":false,"fault":{"code":')
    Add-ExJsonString $builder $Code
    [void]$builder.Append(',"message":')
    Add-ExJsonString $builder $Message
    [void]$builder.Append('}}')
    Write-ExLine ($ExResultMarker + $builder.ToString())
}

# Stop-ExOperation writes a deliberate fault for the running operation and ends the script.
# Exit code 0: the script did what it is for, reporting the fault, which travels in the
# envelope (as the simulator answers). "exit" unwinds as flow control: no trap or catch
# intercepts it.
function Stop-ExOperation {
    param([string]$Code, [string]$Message)
    Write-Fault $ExOperation $Code $Message
    exit 0
}

# Any terminating error nobody caught (with ErrorActionPreference Stop, that is every error
# not handled on purpose) becomes the fault "unexpected" with the exception's message and
# the script line, and exit code 1.
trap {
    $message = 'unknown error'
    if ($null -ne $_ -and $null -ne $_.Exception) { $message = $_.Exception.Message }
    if ($null -ne $_ -and $null -ne $_.InvocationInfo -and $_.InvocationInfo.ScriptLineNumber -gt 0) {
        $message = $message + ' (script line ' + $_.InvocationInfo.ScriptLineNumber + ')'
    }
    Write-Fault $ExOperation 'unexpected' $message
    exit 1
}
