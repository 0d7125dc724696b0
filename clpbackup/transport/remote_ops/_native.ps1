# clpbackup-lib: _native
#
# Shared by the remote operations (inspect, apply): the loader splices this text into each
# operation where it says '# clpbackup-include: _native.ps1', so every pipeline still sends one
# self-contained PowerShell 2.0 script (protocol 2.1 has no multi-statement pipelines). The
# functions read the operation's parameters $CodePage and $CommandTimeoutSeconds.

function Get-OemCodePage {
    # The system's OEM code page (what console programs write); the registry is the source of truth,
    # the culture is the fallback.
    try {
        $nls = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\CodePage' -Name 'OEMCP'
        return [int]$nls.OEMCP
    } catch {
        return [int][Globalization.CultureInfo]::CurrentCulture.TextInfo.OEMCodePage
    }
}

function ConvertTo-Hex([byte[]]$Bytes) {
    return ([BitConverter]::ToString($Bytes) -replace '-', '').ToLower()
}

function Read-SharedBytes([string]$Path) {
    # ReadAllBytes refuses a file another process has open for writing (a running backup's log):
    # open it with FileShare.ReadWrite instead.
    $stream = New-Object System.IO.FileStream -ArgumentList $Path, ([IO.FileMode]::Open), ([IO.FileAccess]::Read), ([IO.FileShare]::ReadWrite)
    try {
        $buffer = New-Object byte[] 65536
        $memory = New-Object System.IO.MemoryStream
        $count = $stream.Read($buffer, 0, $buffer.Length)
        while ($count -gt 0) {
            $memory.Write($buffer, 0, $count)
            $count = $stream.Read($buffer, 0, $buffer.Length)
        }
        return ,$memory.ToArray()
    } finally {
        $stream.Close()
    }
}

function Get-TextEncoding {
    $page = $CodePage
    if ($page -le 0) {
        $page = Get-OemCodePage
    }
    return [Text.Encoding]::GetEncoding($page)
}

function Invoke-Native([string]$Program, [string]$ArgumentText, [int]$Index) {
    # One native program through System.Diagnostics.Process: no shell, stdout and stderr read
    # apart as raw bytes (asynchronous reads without callbacks, so neither pipe can fill up and
    # block the program), killed after CommandTimeoutSeconds, decoded with the code page.
    $result = @{ index = $Index; program = $Program; arguments = $ArgumentText; rc = $null; stdout = ''; stderr = ''; ran = $true }
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = $Program
    $info.Arguments = $ArgumentText
    $info.UseShellExecute = $false
    $info.CreateNoWindow = $true
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $process = New-Object System.Diagnostics.Process
    $process.StartInfo = $info
    try {
        $null = $process.Start()
    } catch {
        # The program does not exist or cannot start: report it the way cmd.exe does.
        $result.rc = 9009
        $result.stderr = $_.Exception.Message
        return $result
    }
    # A program that asks a question reads end-of-file instead of waiting for an answer.
    $process.StandardInput.Close()
    $outStream = $process.StandardOutput.BaseStream
    $errStream = $process.StandardError.BaseStream
    $outBuffer = New-Object byte[] 65536
    $errBuffer = New-Object byte[] 65536
    $outData = New-Object System.IO.MemoryStream
    $errData = New-Object System.IO.MemoryStream
    $outRead = $outStream.BeginRead($outBuffer, 0, $outBuffer.Length, $null, $null)
    $errRead = $errStream.BeginRead($errBuffer, 0, $errBuffer.Length, $null, $null)
    $limit = [DateTime]::UtcNow.AddSeconds($CommandTimeoutSeconds)
    $timedOut = $false
    while (($outRead -ne $null) -or ($errRead -ne $null)) {
        if ([DateTime]::UtcNow -gt $limit) {
            $timedOut = $true
            break
        }
        if (($outRead -ne $null) -and $outRead.AsyncWaitHandle.WaitOne(50, $false)) {
            $count = $outStream.EndRead($outRead)
            if ($count -gt 0) {
                $outData.Write($outBuffer, 0, $count)
                $outRead = $outStream.BeginRead($outBuffer, 0, $outBuffer.Length, $null, $null)
            } else {
                $outRead = $null
            }
        }
        if (($errRead -ne $null) -and $errRead.AsyncWaitHandle.WaitOne(50, $false)) {
            $count = $errStream.EndRead($errRead)
            if ($count -gt 0) {
                $errData.Write($errBuffer, 0, $count)
                $errRead = $errStream.BeginRead($errBuffer, 0, $errBuffer.Length, $null, $null)
            } else {
                $errRead = $null
            }
        }
    }
    if (-not $timedOut) {
        $left = [int](($limit - [DateTime]::UtcNow).TotalMilliseconds)
        if ($left -lt 0) {
            $left = 0
        }
        if (-not $process.WaitForExit($left)) {
            $timedOut = $true
        }
    }
    $encoding = Get-TextEncoding
    $result.stdout = $encoding.GetString($outData.ToArray())
    $result.stderr = $encoding.GetString($errData.ToArray())
    if ($timedOut) {
        try {
            $process.Kill()
        } catch {
        }
        $result.rc = $null
        $result.stderr = $result.stderr + [Environment]::NewLine + 'clpbackup: the program was stopped after ' + [string]$CommandTimeoutSeconds + ' seconds'
    } else {
        $result.rc = [int]$process.ExitCode
    }
    return $result
}
