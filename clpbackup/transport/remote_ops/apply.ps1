# clpbackup-op: apply v1
#
# Makes every change on a node in one pipeline: files written atomically (skipped when the hash is
# already right), files deleted, then native commands run in order. Contract: docs/design.md,
# "apply v1".
#
# PowerShell 2.0 code (.NET 2.0 APIs only): it runs unchanged on Windows Server 2003 with WMF 2.0,
# 2008, 2008 R2 and 2012. Every value arrives as a parameter of the pipeline; nothing is spliced
# into this text. The script emits exactly one Hashtable and nothing else.
param(
    [string[]]$WritePaths = @(),
    [string[]]$WriteContents = @(),
    [string[]]$WriteHashes = @(),
    [string[]]$DeletePaths = @(),
    [string[]]$Programs = @(),
    [string[]]$Arguments = @(),
    [bool]$StopOnError = $true,
    [int]$CodePage = 0,
    [int]$CommandTimeoutSeconds = 300
)

$ErrorActionPreference = 'Stop'

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

function Get-FileSha256([string]$Path) {
    $sha = New-Object System.Security.Cryptography.SHA256Managed
    return ConvertTo-Hex ($sha.ComputeHash((Read-SharedBytes $Path)))
}

function Write-OneFile([string]$Path, [string]$ContentBase64, [string]$ExpectedHash) {
    # The bytes go to <path>.clpbackup-tmp beside the target, are checked against their SHA-256,
    # and replace the target in one rename, so a reader never sees a half-written file.
    $entry = @{ path = $Path; changed = $false; sha256 = $null; error = $null }
    $temporary = $Path + '.clpbackup-tmp'
    $previous = $Path + '.clpbackup-old'
    try {
        $expected = $ExpectedHash.ToLower()
        if ([IO.File]::Exists($Path)) {
            $current = Get-FileSha256 $Path
            if ($current -eq $expected) {
                $entry.sha256 = $current
                return $entry
            }
        }
        $bytes = [Convert]::FromBase64String($ContentBase64)
        $sha = New-Object System.Security.Cryptography.SHA256Managed
        if ((ConvertTo-Hex ($sha.ComputeHash($bytes))) -ne $expected) {
            throw 'the content received does not match its SHA-256; nothing was written'
        }
        $folder = [IO.Path]::GetDirectoryName($Path)
        if ($folder -and -not [IO.Directory]::Exists($folder)) {
            $null = [IO.Directory]::CreateDirectory($folder)
        }
        [IO.File]::WriteAllBytes($temporary, $bytes)
        if ((Get-FileSha256 $temporary) -ne $expected) {
            throw 'the temporary file does not match the SHA-256 of the content; nothing was replaced'
        }
        if ([IO.File]::Exists($Path)) {
            # PowerShell 2.0 turns $null into '' for a string argument, so File.Replace gets a
            # backup name (same folder, same volume) that is removed afterwards.
            if ([IO.File]::Exists($previous)) {
                [IO.File]::Delete($previous)
            }
            [IO.File]::Replace($temporary, $Path, $previous)
            try {
                [IO.File]::Delete($previous)
            } catch {
            }
        } else {
            [IO.File]::Move($temporary, $Path)
        }
        $entry.changed = $true
        $entry.sha256 = $expected
    } catch {
        $entry.error = $_.Exception.Message
        try {
            if ([IO.File]::Exists($temporary)) {
                [IO.File]::Delete($temporary)
            }
        } catch {
        }
    }
    return $entry
}

if (($WriteContents.Length -ne $WritePaths.Length) -or ($WriteHashes.Length -ne $WritePaths.Length)) {
    throw 'apply: WritePaths, WriteContents and WriteHashes must have the same length'
}

$files = @()
$failed = $false
for ($i = 0; $i -lt $WritePaths.Length; $i++) {
    $entry = Write-OneFile $WritePaths[$i] $WriteContents[$i] $WriteHashes[$i]
    if ($entry.error -ne $null) {
        $failed = $true
    }
    $files += $entry
}

$deleted = @()
$deleteErrors = @()
foreach ($path in $DeletePaths) {
    try {
        if ([IO.File]::Exists($path)) {
            [IO.File]::Delete($path)
            $deleted += $path
        }
    } catch {
        $deleteErrors += @{ path = $path; error = $_.Exception.Message }
        $failed = $true
    }
}

# With StopOnError a failed write or delete, or a command with rc <> 0, stops the commands that
# follow: they are reported with ran = $false.
$commands = @()
for ($i = 0; $i -lt $Programs.Length; $i++) {
    $argumentText = ''
    if (($i -lt $Arguments.Length) -and ($Arguments[$i] -ne $null)) {
        $argumentText = $Arguments[$i]
    }
    if ($StopOnError -and $failed) {
        $commands += @{ index = $i; program = $Programs[$i]; arguments = $argumentText; rc = $null; stdout = ''; stderr = ''; ran = $false }
    } else {
        $run = Invoke-Native $Programs[$i] $argumentText $i
        if ($run.rc -ne 0) {
            $failed = $true
        }
        $commands += $run
    }
}

@{
    op = 'apply'
    version = 1
    files = $files
    deleted = $deleted
    delete_errors = $deleteErrors
    commands = $commands
}
