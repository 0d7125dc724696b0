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
    [bool]$Clpstat = $false,
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
    if ($ScriptsDir) {
        $scripts = [IO.Directory]::Exists($ScriptsDir)
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
foreach ($path in $order) {
    $files += Get-FileState $path $wanted[$path]
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
