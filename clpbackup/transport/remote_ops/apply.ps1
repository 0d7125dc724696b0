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

# clpbackup-include: _native.ps1

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
