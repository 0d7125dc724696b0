# clpbackup-op: inspect v1
#
# Reads the state of a node in one pipeline: facts, file hashes and contents, and the output of
# native (read-only) commands. Contract: docs/design.md, "inspect v1".
#
# PowerShell 2.0 code (.NET 2.0 APIs only): it runs unchanged on Windows Server 2003 with WMF 2.0,
# 2008, 2008 R2 and 2012. Every value arrives as a parameter of the pipeline; nothing is spliced
# into this text. The script emits exactly one Hashtable and nothing else.
param(
    [bool]$WantFacts = $true,
    [string[]]$HashPaths = @(),
    [string[]]$ReadPaths = @(),
    [string[]]$Programs = @(),
    [string[]]$Arguments = @(),
    [string[]]$ProbeVolumes = @(),
    [string]$ScriptsDir = '',
    [string]$RecordPath = '',
    [bool]$Clpstat = $false,
    [int]$CodePage = 0,
    [int]$CommandTimeoutSeconds = 300
)

$ErrorActionPreference = 'Stop'

# clpbackup-include: _native.ps1

function Get-FileState([string]$Path, [bool]$Read) {
    $state = @{ path = $Path; sha256 = $null; content_base64 = $null; error = $null }
    try {
        if ([IO.File]::Exists($Path)) {
            $bytes = Read-SharedBytes $Path
            $sha = New-Object System.Security.Cryptography.SHA256Managed
            $state.sha256 = ConvertTo-Hex ($sha.ComputeHash($bytes))
            if ($Read) {
                $state.content_base64 = [Convert]::ToBase64String($bytes)
            }
        }
    } catch {
        $state.error = $_.Exception.Message
    }
    return $state
}

function Test-Writable([string]$Root) {
    $probe = Join-Path $Root ('.clpbackup-probe-' + [Guid]::NewGuid().ToString('N'))
    try {
        [IO.File]::WriteAllBytes($probe, (New-Object byte[] 0))
        [IO.File]::Delete($probe)
        return $true
    } catch {
        return $false
    }
}

function Get-VolumeState([string]$Letter) {
    $name = $Letter.Substring(0, 1).ToUpper() + ':'
    $present = $false
    $writable = $false
    try {
        $drive = New-Object System.IO.DriveInfo -ArgumentList ($name + '\')
        $present = [bool]$drive.IsReady
    } catch {
        $present = $false
    }
    if ($present) {
        $writable = Test-Writable ($name + '\')
    }
    return @{ letter = $name; present = $present; writable = $writable }
}

function Get-Facts {
    $version = [Environment]::OSVersion.Version
    $caption = ''
    try {
        $os = Get-WmiObject -Class Win32_OperatingSystem
        $caption = [string]$os.Caption
    } catch {
        $caption = ''
    }
    $volumes = @()
    $listed = @{}
    foreach ($drive in [IO.DriveInfo]::GetDrives()) {
        if ($drive.DriveType -eq [IO.DriveType]::Fixed) {
            $state = Get-VolumeState $drive.Name
            $listed[$state.letter] = $true
            $volumes += $state
        }
    }
    foreach ($probe in $ProbeVolumes) {
        if ($probe) {
            $state = Get-VolumeState $probe
            if (-not $listed.ContainsKey($state.letter)) {
                $listed[$state.letter] = $true
                $volumes += $state
            }
        }
    }
    $startMode = $null
    $serviceState = $null
    try {
        $service = Get-WmiObject -Class Win32_Service -Filter "Name='Schedule'"
        if ($service) {
            $startMode = [string]$service.StartMode
            $serviceState = [string]$service.State
        }
    } catch {
        $startMode = $null
    }
    $wsb = $null
    if ($version.Major -ge 6) {
        # wbadmin.exe is in System32 only once the Windows Server Backup feature (with its
        # command-line tools) is installed. A 32-bit host sees System32 through Sysnative.
        $system = Join-Path $env:SystemRoot 'Sysnative'
        if (-not (Test-Path -LiteralPath $system)) {
            $system = Join-Path $env:SystemRoot 'System32'
        }
        $wsb = Test-Path -LiteralPath (Join-Path $system 'wbadmin.exe')
    }
    $scripts = $null
    $writers = $null
    if ($ScriptsDir) {
        $scripts = [IO.Directory]::Exists($ScriptsDir)
        if ($scripts) {
            # Who may write in the folder SYSTEM runs from: its owner and every Allow entry with a
            # write, delete or permission right (inherit-only entries too: they apply to what is
            # created inside). SIDs, not names, so the answer is the same on ja-JP.
            $writeMask = [long](2 -bor 4 -bor 16 -bor 64 -bor 256 -bor 65536 -bor 262144 -bor 524288)
            $writeMask = $writeMask -bor [long]0x10000000 -bor [long]0x40000000
            $security = [IO.Directory]::GetAccessControl($ScriptsDir)
            $sid = [Security.Principal.SecurityIdentifier]
            $writers = @([string]$security.GetOwner($sid).Value)
            foreach ($rule in $security.GetAccessRules($true, $true, $sid)) {
                $rights = [long]$rule.FileSystemRights.value__
                if (($rule.AccessControlType -eq 'Allow') -and (($rights -band $writeMask) -ne 0)) {
                    $writers += [string]$rule.IdentityReference.Value
                }
            }
        }
    }
    $clpstatText = $null
    if ($Clpstat) {
        $found = Get-Command -Name 'clpstat.exe' -CommandType Application -ErrorAction SilentlyContinue
        if ($found) {
            $clpstatPath = @($found)[0].Definition
            $run = Invoke-Native $clpstatPath '' 0
            if ($run.rc -eq 0) {
                $clpstatText = $run.stdout
            }
        }
    }
    return @{
        hostname = [Environment]::MachineName
        os_version = [string]$version.Major + '.' + [string]$version.Minor + '.' + [string]$version.Build
        os_caption = $caption
        ps_version = [string]$PSVersionTable.PSVersion.Major + '.' + [string]$PSVersionTable.PSVersion.Minor
        oem_codepage = Get-OemCodePage
        volumes = $volumes
        schedule_start_mode = $startMode
        schedule_state = $serviceState
        wsb_installed = $wsb
        scripts_dir_exists = $scripts
        scripts_dir_writers = $writers
        clpstat = $clpstatText
    }
}

$facts = $null
if ($WantFacts) {
    $facts = Get-Facts
}

# Files: each path once, in the order given; a path in ReadPaths also gets its content.
$files = @()
$order = @()
$wanted = @{}
foreach ($path in $HashPaths) {
    if (-not $wanted.ContainsKey($path)) {
        $wanted[$path] = $false
        $order += $path
    }
}
foreach ($path in $ReadPaths) {
    if (-not $wanted.ContainsKey($path)) {
        $order += $path
    }
    $wanted[$path] = $true
}
if ($RecordPath) {
    if (-not $wanted.ContainsKey($RecordPath)) {
        $order += $RecordPath
    }
    $wanted[$RecordPath] = $true
}
$recordState = $null
foreach ($path in $order) {
    $state = Get-FileState $path $wanted[$path]
    if ($RecordPath -and ($path -eq $RecordPath)) {
        $recordState = $state
    }
    $files += $state
}

# OWN-1: every file clpbackup's record lists is hashed (a canary also read), whether or not the
# plan the client holds still renders it: a job taken out of the plan leaves files only the
# record names, and they are deleted by their hash. The record is ours (one JSON object per line,
# ASCII, written by apply), so its file and canary lines are matched by their exact shape.
if (($recordState -ne $null) -and ($recordState.content_base64 -ne $null)) {
    $recordText = [Text.Encoding]::ASCII.GetString([Convert]::FromBase64String($recordState.content_base64))
    $shape = '^\{"kind": "(file|canary)", "path": "((?:[^"\\]|\\.)*)"'
    foreach ($line in $recordText.Split([char]10)) {
        $found = [regex]::Match($line, $shape)
        if ($found.Success) {
            try {
                $listed = [regex]::Unescape($found.Groups[2].Value)
            } catch {
                # not an escape JSON writes: a damaged record, which the client refuses to act on
                continue
            }
            if (-not $wanted.ContainsKey($listed)) {
                $wanted[$listed] = ($found.Groups[1].Value -eq 'canary')
                $files += Get-FileState $listed $wanted[$listed]
            }
        }
    }
}

$commands = @()
for ($i = 0; $i -lt $Programs.Length; $i++) {
    $argumentText = ''
    if (($i -lt $Arguments.Length) -and ($Arguments[$i] -ne $null)) {
        $argumentText = $Arguments[$i]
    }
    $commands += Invoke-Native $Programs[$i] $argumentText $i
}

@{
    op = 'inspect'
    version = 1
    facts = $facts
    files = $files
    commands = $commands
}
