# clpbackup-op: apply v1
#
# Makes every change on a node in one pipeline: under the node lock (LOCK-1) the reads the changes
# rest on are checked again (guards), files are written atomically (skipped when the hash is already
# right), files deleted, native commands run in order, and the record of what clpbackup owns there
# (OWN-1) is written last. Contract: docs/design.md, "apply v1".
#
# PowerShell 2.0 code (.NET 2.0 APIs only): it runs unchanged on Windows Server 2003 with WMF 2.0,
# 2008, 2008 R2 and 2012. Every value arrives as a parameter of the pipeline; nothing is spliced
# into this text. The script emits exactly one Hashtable and nothing else.
param(
    [string]$LockPath = '',
    [string]$LockOwner = '',
    [int]$LockSeconds = 0,
    [int]$LockWaitSeconds = 0,
    [string[]]$GuardPaths = @(),
    [string[]]$GuardHashes = @(),
    [string[]]$GuardPrograms = @(),
    [string[]]$GuardArguments = @(),
    [string[]]$GuardOutputs = @(),
    [string[]]$GuardRefuse = @(),
    [string]$RecordPath = '',
    [string[]]$RecordLines = @(),
    [string[]]$RecordWhen = @(),
    [string[]]$WritePaths = @(),
    [string[]]$WriteContents = @(),
    [string[]]$WriteHashes = @(),
    [string[]]$DeletePaths = @(),
    [string[]]$LockedDirectories = @(),
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
        # PowerShell wraps a .NET method's exception ('Exception calling "Move" ...'): report the
        # node's own reason (access denied, a folder in the way, disk full)
        $exception = $_.Exception
        if ($exception.InnerException -ne $null) {
            $exception = $exception.InnerException
        }
        $entry.error = $exception.Message
        try {
            if ([IO.File]::Exists($temporary)) {
                [IO.File]::Delete($temporary)
            }
        } catch {
        }
    }
    return $entry
}

function Enter-NodeLock {
    # LOCK-1. The lease is a file held open without write sharing for the whole apply: a second
    # opener gets a sharing violation until the holder's process closes it or ends (Windows closes
    # the handles of a process that dies, so a crashed holder never blocks for good). The holder
    # writes who it is, when it took the lease and until when it means to hold it; a waiter reads
    # that to name the holder.
    $folder = [IO.Path]::GetDirectoryName($LockPath)
    if ($folder -and -not [IO.Directory]::Exists($folder)) {
        $null = [IO.Directory]::CreateDirectory($folder)
    }
    $deadline = [DateTime]::UtcNow.AddSeconds($LockWaitSeconds)
    while ($true) {
        try {
            $stream = [IO.File]::Open($LockPath, [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::Read)
        } catch {
            $cause = $_.Exception
            if ($cause.InnerException -ne $null) {
                $cause = $cause.InnerException
            }
            if (-not ($cause -is [IO.IOException]) -or ($cause -is [IO.DirectoryNotFoundException])) {
                throw
            }
            if ([DateTime]::UtcNow -ge $deadline) {
                $holder = ''
                try {
                    $holder = [Text.Encoding]::UTF8.GetString((Read-SharedBytes $LockPath))
                } catch {
                    $holder = ''
                }
                $script:lockHolder = $holder.Trim()
                return $null
            }
            Start-Sleep -Milliseconds 500
            continue
        }
        $now = [DateTime]::UtcNow
        $text = 'owner=' + $LockOwner + "`r`n" + 'taken=' + $now.ToString('yyyy-MM-ddTHH:mm:ssZ') + "`r`n" + 'expires=' + $now.AddSeconds($LockSeconds).ToString('yyyy-MM-ddTHH:mm:ssZ') + "`r`n"
        $bytes = [Text.Encoding]::UTF8.GetBytes($text)
        $stream.SetLength(0)
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush()
        return $stream
    }
}

function Get-StaleGuards {
    # The reads the client's decisions rest on, made again under the lock: a file's hash ('' =
    # absent) and read-only listings (at) whose output must be unchanged. Any difference means
    # another writer came first: nothing is done, and the client reads and decides again.
    $stale = @()
    for ($i = 0; $i -lt $GuardPaths.Length; $i++) {
        $now = ''
        if ([IO.File]::Exists($GuardPaths[$i])) {
            $now = Get-FileSha256 $GuardPaths[$i]
        }
        if ($now -ne $GuardHashes[$i].ToLower()) {
            $stale += $GuardPaths[$i]
        }
    }
    for ($i = 0; $i -lt $GuardPrograms.Length; $i++) {
        $argumentText = ''
        if (($i -lt $GuardArguments.Length) -and ($GuardArguments[$i] -ne $null)) {
            $argumentText = $GuardArguments[$i]
        }
        $run = Invoke-Native $GuardPrograms[$i] $argumentText $i
        # With a pattern (LIVE-1) the output must not match it; without one it must be unchanged.
        $changed = -not ($run.stdout -ceq $GuardOutputs[$i])
        if (($i -lt $GuardRefuse.Length) -and $GuardRefuse[$i]) {
            $changed = [regex]::IsMatch($run.stdout, $GuardRefuse[$i])
        }
        if (($run.rc -ne 0) -or $changed) {
            $stale += ($GuardPrograms[$i] + ' ' + $argumentText).Trim()
        }
    }
    return ,$stale
}

function Get-RecordText($Files, $Commands, $NotDeleted) {
    # OWN-1: the record lists what exists after this apply. A line is kept always, only if command
    # i ran with exit code 0 ('ran:i'; the AT id that at.exe printed replaces the id token),
    # unless command i did ('notran:i'), only if write i succeeded ('wrote:i'), unless it did
    # ('notwrote:i') or only if deleting DeletePaths[i] failed ('notdeleted:i': the file is still
    # there, still clpbackup's, and the next run tries again).
    $kept = @()
    for ($i = 0; $i -lt $RecordLines.Length; $i++) {
        $line = $RecordLines[$i]
        $when = ''
        if ($i -lt $RecordWhen.Length -and $RecordWhen[$i] -ne $null) {
            $when = $RecordWhen[$i]
        }
        if ($when -ne '') {
            $parts = $when.Split(':')
            $k = [int]$parts[1]
            if (($parts[0] -eq 'wrote') -or ($parts[0] -eq 'notwrote')) {
                $wrote = ($k -lt $Files.Length) -and ($Files[$k].error -eq $null)
                if ($wrote -ne ($parts[0] -eq 'wrote')) {
                    continue
                }
            } elseif ($parts[0] -eq 'notdeleted') {
                if (-not (($k -lt $NotDeleted.Length) -and $NotDeleted[$k])) {
                    continue
                }
            } else {
                $ok = ($k -lt $Commands.Length) -and $Commands[$k].ran -and ($Commands[$k].rc -eq 0)
                if ($parts[0] -eq 'ran') {
                    if (-not $ok) {
                        continue
                    }
                    if ($line.Contains('"@AT_ID@"')) {
                        $found = [regex]::Match([string]$Commands[$k].stdout, '\bID\s*=\s*(\d+)', [Text.RegularExpressions.RegexOptions]::IgnoreCase)
                        if (-not $found.Success) {
                            continue
                        }
                        $line = $line.Replace('"@AT_ID@"', $found.Groups[1].Value)
                    }
                } elseif ($ok) {
                    continue
                }
            }
        }
        $kept += $line
    }
    $text = ''
    foreach ($line in $kept) {
        $text += $line + "`r`n"
    }
    return $text
}

function New-LockedDirectory([string]$Path) {
    # The scripts folder is run by SYSTEM: SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544)
    # get full control, nothing is inherited, nobody else may write. Well-known SIDs, so the same
    # on every locale. .NET 2.0 DirectorySecurity: PowerShell 2.0 on 2003 (WMF 2.0) and later.
    $security = New-Object System.Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    $propagate = [System.Security.AccessControl.PropagationFlags]'None'
    $allow = [System.Security.AccessControl.AccessControlType]'Allow'
    $full = [System.Security.AccessControl.FileSystemRights]'FullControl'
    foreach ($sidText in @('S-1-5-18', 'S-1-5-32-544')) {
        $sid = New-Object System.Security.Principal.SecurityIdentifier($sidText)
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($sid, $full, $inherit, $propagate, $allow)
        $security.AddAccessRule($rule)
    }
    $null = [IO.Directory]::CreateDirectory($Path, $security)
}

if (($WriteContents.Length -ne $WritePaths.Length) -or ($WriteHashes.Length -ne $WritePaths.Length)) {
    throw 'apply: WritePaths, WriteContents and WriteHashes must have the same length'
}
if (($GuardHashes.Length -ne $GuardPaths.Length) -or ($GuardOutputs.Length -ne $GuardPrograms.Length)) {
    throw 'apply: GuardPaths/GuardHashes and GuardPrograms/GuardOutputs must have the same length'
}

# The scripts folder first, locked (ACL-1): the node lock's file and everything after go into it.
foreach ($lockedPath in $LockedDirectories) {
    if (-not [IO.Directory]::Exists($lockedPath)) {
        try {
            New-LockedDirectory $lockedPath
        } catch {
            # the first write into it reports the reason
        }
    }
}

$script:lockHolder = $null
$lock = $null
if ($LockPath) {
    $lock = Enter-NodeLock
    if ($lock -eq $null) {
        @{
            op = 'apply'
            version = 1
            lock = @{ acquired = $false; busy = $true; holder = $script:lockHolder }
            files = @()
            deleted = @()
            delete_errors = @()
            commands = @()
        }
        return
    }
}
try {
$stale = Get-StaleGuards
if ($stale.Length -gt 0) {
    @{
        op = 'apply'
        version = 1
        lock = @{ acquired = ($lock -ne $null); busy = $false; holder = $null }
        stale = $stale
        files = @()
        deleted = @()
        delete_errors = @()
        commands = @()
    }
    return
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
$notDeleted = @()
foreach ($path in $DeletePaths) {
    $gone = $true
    try {
        if ([IO.File]::Exists($path)) {
            [IO.File]::Delete($path)
            $deleted += $path
        }
    } catch {
        $deleteErrors += @{ path = $path; error = $_.Exception.Message }
        $failed = $true
        $gone = $false
    }
    $notDeleted += (-not $gone)
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

$record = $null
if ($RecordPath) {
    $recordBytes = [Text.Encoding]::ASCII.GetBytes((Get-RecordText $files $commands $notDeleted))
    $sha = New-Object System.Security.Cryptography.SHA256Managed
    $recordHash = ConvertTo-Hex ($sha.ComputeHash($recordBytes))
    $written = Write-OneFile $RecordPath ([Convert]::ToBase64String($recordBytes)) $recordHash
    $record = @{ path = $RecordPath; sha256 = $written.sha256; error = $written.error }
}

@{
    op = 'apply'
    version = 1
    lock = @{ acquired = ($lock -ne $null); busy = $false; holder = $null }
    stale = @()
    record = $record
    files = $files
    deleted = $deleted
    delete_errors = $deleteErrors
    commands = $commands
}
} finally {
    if ($lock -ne $null) {
        $lock.Close()
    }
}
