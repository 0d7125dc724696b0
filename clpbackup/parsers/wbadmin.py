"""Parse the output of ``wbadmin get versions`` and ``wbadmin start backup`` (2008, 2008 R2, 2012).

Pure code, no I/O. Input is text (decode bytes with :func:`clpbackup.parsers.common.decode` in the
node's OEM code page: cp437 en-US, cp932 ja-JP). Lines may end in CRLF, LF or CR.

The formats, as the simulator should print them
===============================================
Tags: **[cap]** seen in a real captured output; **[doc]** in Microsoft's documentation;
**[assumed]** written from general knowledge, not verified — the parser accepts it and also
relies on the locale-neutral tokens (version identifier, log file names, ``0x`` codes) so that a
wording difference costs little.

Banner (every command) — en-US [cap], ja-JP first line [ref §9], second line [assumed same]::

    wbadmin 1.0 - Backup command-line tool
    (C) Copyright Microsoft Corporation. All rights reserved.

    wbadmin 1.0 - バックアップ コマンド ライン ツール
    (C) Copyright Microsoft Corporation. All rights reserved.

``wbadmin get versions``
------------------------
One block per version, blocks separated by blank lines, oldest first. Each line is
``<label>: <value>``::

    Backup time: 3/7/2013 9:00 PM                            <- local time, locale short format
    Backup target: Fixed Disk labeled Backup(G:)             <- 2008/2008 R2 label
    Version identifier: 03/08/2013-05:00                     <- MM/DD/YYYY-HH:MM, 24 h, UTC
    Can recover: Volume(s), File(s)
    Snapshot ID: {1f2d3c4b-...}                              <- 2008 R2+ [assumed]

- en-US labels: ``Backup time``, ``Backup location`` (2012+ [cap]) or ``Backup target`` (older
  [cap, write-ups]), ``Version identifier``, ``Can recover``, ``Snapshot ID``.
- ja-JP labels [ref §9]: ``バックアップ時間`` (``YYYY/MM/DD H:MM``), ``バックアップ対象``,
  ``バージョン識別子``, ``回復可能``, ``スナップショット ID``. A full-width colon ``：`` is also
  accepted [assumed possible].
- The version identifier is locale-invariant and UTC [doc + ref §9]; it is the only time parsed.
  ``Backup time`` is kept as text. A line whose value is a version identifier is recognised even
  under an unknown label.
- ``Can recover`` lists items separated by ``, `` or ``、`` (ja-JP, some builds) [ref §9].
- Locations [cap/assumed]: ``Network Share labeled \\\\host\\share\\``, ``Fixed Disk labeled
  Backup(G:)``; ja-JP ``ネットワーク共有 ラベル \\\\host\\share\\`` / ``固定ディスク ラベル Backup(G:)``
  [assumed]. :attr:`BackupVersion.target` extracts the UNC path or the drive letter from them.
- **No backups** [assumed, not captured]: the banner followed by ``No backups were found.``
  (en-US) or ``バックアップが見つかりませんでした。`` (ja-JP); a banner with nothing after it is read
  the same way. Other accepted forms: ``No backup was found``, ``There are no backups``,
  ``バックアップがありません``. These yield ``[]``.
- ``ERROR - <message>`` / ``エラー - <message>`` lines (target unreachable …) → ``ParseError``
  whose reason carries the message.

``wbadmin start backup … -quiet``
---------------------------------
2012+ word order and volume rendering (``(C:)``) [cap 2019]::

    Retrieving volume information...
    This will back up (E:) to \\\\nas01\\backup\\node-a\\.
    The backup operation to \\\\nas01\\backup\\node-a\\ is starting.
    Creating a shadow copy of the volumes specified for backup...
    Creating a backup of volume (E:), copied (100%).
    Summary of the backup operation:
    ------------------

    The backup operation successfully completed.
    The backup of volume (E:) completed successfully.
    Log of files successfully backed up:
    C:\\Windows\\Logs\\WindowsServerBackup\\Backup-08-03-2013_05-00-12.log

6.1 era (2008 R2) [cap, Windows 7 tail]: the success line comes *before* ``Summary of the backup
operation:``, volumes render as ``label(letter)`` — ``C(C:)`` — and the per-volume line reads
``The backup of volume C(C:) successfully completed.``. Both orders and renderings are accepted.

Failure [assumed, no capture exists]::

    ERROR - A Volume Shadow Copy Service operation error has occurred: (0x8004230C)
    The backup operation stopped before completing.
    There was a failure in preparing the backup image of one of the volumes in the backup set.
    The backup of volume (E:) did not complete successfully.
    Log of files for which backup failed:
    C:\\Windows\\Logs\\WindowsServerBackup\\Backup_Error-08-03-2013_05-00-12.log

ja-JP ``start backup`` [all assumed]::

    ボリューム情報を取得しています...
    (E:) を G: にバックアップします。
    G: へのバックアップ操作を開始しています。
    バックアップ操作の概要:
    バックアップ操作が正常に完了しました。
    ボリューム (E:) のバックアップは正常に完了しました。
    正常にバックアップされたファイルのログ:
    バックアップ操作は完了前に停止しました。          <- failure
    エラー - <message>                                 <- failure

Locale-neutral evidence used in every locale: log file names ``Backup-DD-MM-YYYY_HH-MM-SS.log``
(UTC) and ``Backup_Error-…`` [cap], ``0x`` + 8 hex digit codes (VSS ``0x8004230C`` =
VSS_E_VOLUME_NOT_SUPPORTED, see rule JOB-4).

Outcome: ``success`` when a success line is present and there is no failure evidence (an ``ERROR``
line, ``stopped before completing``, a volume that did not complete); ``failure`` when there is
failure evidence; ``incomplete`` when the output is recognisably wbadmin but has neither (the
backup is still running, or the output was cut). Text with nothing recognisable → ``ParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from clpbackup.parsers.common import FormatProblem, guarded, split_blocks, split_lines

__all__ = [
    "BackupSummary",
    "BackupVersion",
    "DrillLog",
    "VolumeResult",
    "copied_percent",
    "parse_backup_summary",
    "parse_drill_log",
    "parse_version_id",
    "parse_versions",
    "reported_error",
]

TOOL_VERSIONS = "wbadmin get versions"
TOOL_BACKUP = "wbadmin start backup"


@dataclass(frozen=True)
class BackupVersion:
    """One backup version listed by ``wbadmin get versions``.

    ``version_id`` is the raw identifier (pass it to ``wbadmin start recovery -version:``);
    ``time_utc`` is the same instant as an aware UTC datetime. ``backup_time_text`` is the local
    time exactly as printed (not parsed: its format follows the node's locale). ``location`` is the
    raw location label; ``target`` the UNC path or drive letter found in it (``None`` if neither).
    """

    version_id: str
    time_utc: datetime
    backup_time_text: str | None
    location: str | None
    target: str | None
    can_recover: tuple[str, ...]
    snapshot_id: str | None


@dataclass(frozen=True)
class VolumeResult:
    """The per-volume result line of ``wbadmin start backup``.

    ``volume`` is the drive letter (``E:``) or whatever was inside the parentheses; ``label`` the
    volume label printed before them by 6.1-era wbadmin (``C`` in ``C(C:)``), else ``None``.
    """

    volume: str
    label: str | None
    succeeded: bool
    text: str


@dataclass(frozen=True)
class BackupSummary:
    """What ``wbadmin start backup`` reported.

    ``outcome`` is ``success``, ``failure`` or ``incomplete`` (see the module docstring).
    ``errors`` holds the error messages (``ERROR - `` lines, "stopped before completing", …);
    ``error_codes`` the ``0x…`` codes found anywhere (upper-case hex, e.g. ``0x8004230C``).
    ``log_path`` / ``error_log_path`` are the ``Backup-…log`` / ``Backup_Error-…log`` files.
    """

    outcome: Literal["success", "failure", "incomplete"]
    target: str | None
    volumes: tuple[VolumeResult, ...]
    errors: tuple[str, ...]
    error_codes: tuple[str, ...]
    log_path: str | None
    error_log_path: str | None

    @property
    def succeeded(self) -> bool:
        """True only for ``outcome == "success"``."""
        return self.outcome == "success"


# --------------------------------------------------------------------------------------------
# get versions

_VERSION_ID = re.compile(r"^(\d{2})/(\d{2})/(\d{4})-(\d{2}):(\d{2})$")

_LABELS: dict[str, str] = {
    "backup time": "time",
    "backup location": "location",
    "backup target": "location",
    "version identifier": "version",
    "can recover": "recover",
    "snapshot id": "snapshot",
    "バックアップ時間": "time",
    "バックアップ対象": "location",
    "バックアップの場所": "location",  # [assumed] 2012+ wording of "Backup location"
    "バージョン識別子": "version",
    "回復可能": "recover",
    "スナップショット id": "snapshot",
}

_NO_BACKUPS = re.compile(
    r"no backups? (?:were|was) found|there are no backups|no backups? (?:are|is) available"
    r"|バックアップが見つかりません|バックアップがありません",
    re.IGNORECASE,
)
_ERROR_LINE = re.compile(r"^\s*(?:ERROR|エラー)\s*[-:－]\s*(?P<msg>.*)$", re.IGNORECASE)
_KEY_VALUE = re.compile(r"^\s*(?P<key>[^:：]+?)\s*[:：]\s*(?P<value>.*?)\s*$")


def _is_banner(line: str) -> bool:
    text = line.strip()
    return text.lower().startswith("wbadmin ") or text.startswith("(C) Copyright")


def _version_time(value: str) -> datetime:
    match = _VERSION_ID.match(value)
    if match is None:
        raise FormatProblem(f"{value!r} is not a version identifier MM/DD/YYYY-HH:MM")
    month, day, year, hour, minute = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)
    except ValueError:
        raise FormatProblem(f"version identifier {value!r} is not a valid date and time") from None


@guarded(TOOL_VERSIONS)
def parse_version_id(version_id: str) -> datetime:
    """Turn a version identifier ``MM/DD/YYYY-HH:MM`` (UTC) into an aware UTC datetime.

    Raises ``ParseError`` when it is not one.
    """
    return _version_time(version_id.strip())


def _target_of(location: str) -> str | None:
    unc = location.find("\\\\")
    if unc >= 0:
        return location[unc:].strip()
    match = re.search(r"\(?([A-Za-z]:)\)?\s*$", location)
    return match.group(1).upper() if match else None


def _split_items(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in re.split(r"[,、，]", value) if item.strip())


def _version(fields: dict[str, str]) -> BackupVersion:
    version_id = fields["version"]
    location = fields.get("location")
    return BackupVersion(
        version_id=version_id,
        time_utc=_version_time(version_id),
        backup_time_text=fields.get("time"),
        location=location,
        target=_target_of(location) if location else None,
        can_recover=_split_items(fields.get("recover", "")),
        snapshot_id=fields.get("snapshot"),
    )


def reported_error(text: str) -> str | None:
    """The message of wbadmin's first ``ERROR - …`` (``エラー - …``) line other than "no backups"
    (e.g. ``Access is denied.`` for a share the process cannot authenticate to), or ``None``."""
    for line in split_lines(text):
        error = _ERROR_LINE.match(line)
        if error and not _NO_BACKUPS.search(line):
            return error["msg"].strip()
    return None


@guarded(TOOL_VERSIONS)
def parse_versions(text: str) -> list[BackupVersion]:
    """Parse ``wbadmin get versions`` output (en-US or ja-JP) into versions, in printed order.

    "No backups" output, or the banner alone, gives ``[]``. An ``ERROR -`` line, a block that is
    neither banner nor version nor "no backups", or a malformed version identifier raises
    ``ParseError``.
    """
    lines = split_lines(text)
    if not any(line.strip() for line in lines):
        raise FormatProblem("the output is empty (wbadmin always prints its banner)")
    versions: list[BackupVersion] = []
    for block in split_blocks(lines):
        body = [line for line in block if not _is_banner(line)]
        if not body:
            continue
        for line in body:
            error = _ERROR_LINE.match(line)
            if error and not _NO_BACKUPS.search(line):
                raise FormatProblem(f"wbadmin reported an error: {error['msg'].strip()}")
        # A label seen twice starts the next version (blocks printed without a blank line).
        records: list[dict[str, str]] = [{}]
        for line in body:
            match = _KEY_VALUE.match(line)
            if match is None:
                continue
            value = match["value"]
            kind = _LABELS.get(match["key"].strip().lower())
            if kind is None and _VERSION_ID.match(value):
                kind = "version"  # an unknown label in front of a version identifier
            if kind is None:
                continue
            if kind in records[-1]:
                records.append({})
            records[-1][kind] = value
        if not any("version" in fields for fields in records):
            if any(_NO_BACKUPS.search(line) for line in body):
                continue
            raise FormatProblem(f"unexpected text, not a version block: {body[0].strip()!r}")
        for fields in records:
            if "version" not in fields:
                raise FormatProblem(f"a version block has no version identifier: {sorted(fields)}")
            versions.append(_version(fields))
    return versions


# --------------------------------------------------------------------------------------------
# start backup

# The file name is found first and the path start searched before it: one linear pass each
# (a single "drive … name" pattern is quadratic on long lines full of "x:").
_LOG_NAME = re.compile(r"Backup(?P<err>_Error)?-\d{2}-\d{2}-\d{4}_\d{2}-\d{2}-\d{2}\.log", re.IGNORECASE)
_PATH_START = re.compile(r"[A-Za-z]:\\|\\\\")


def _log_file(line: str) -> tuple[str, bool] | None:
    """``(path, is_error_log)`` of a ``Backup-….log`` / ``Backup_Error-….log`` path in ``line``."""
    name = _LOG_NAME.search(line)
    if name is None:
        return None
    start = _PATH_START.search(line, 0, name.start())
    if start is None:
        return None
    return line[start.start() : name.end()].strip(), bool(name["err"])
_CODE = re.compile(r"0[xX]([0-9A-Fa-f]{8})(?![0-9A-Fa-f])")
_VOLUME = r"(?P<label>[^()]*?)\s*\((?P<vol>[^()]*)\)"
_VOLUME_EN = re.compile(r"^The backup of volume " + _VOLUME + r"\s*(?P<rest>.*?)\.?$", re.IGNORECASE)
# "のバックアップは/が …" only: "のバックアップを作成しています" is the progress line.
_VOLUME_JA = re.compile(r"^ボリューム\s*" + _VOLUME + r"\s*のバックアップ(?P<rest>[はが].*)$")
_TARGET_EN = re.compile(r"^The backup operation to (?P<t>.+?) is starting\.?$", re.IGNORECASE)
_TARGET_JA = re.compile(r"^(?P<t>.+?)\s*へのバックアップ操作を開始しています。?$")
_SUCCESS = re.compile(
    r"^(?:The backup operation (?:successfully completed|completed successfully)\.?"
    r"|バックアップ操作(?:が|は)正常に完了しました。?)$",
    re.IGNORECASE,
)
_STOPPED = re.compile(
    r"^(?:The backup operation (?:stopped before completing|did not complete successfully)\.?"
    r"|バックアップ操作は完了前に停止しました。?|バックアップ操作は正常に完了しませんでした。?)$",
    re.IGNORECASE,
)
_FAILURE_NOTE = re.compile(
    r"^(?:There was a failure in preparing the backup image.*|Detailed error:.*"
    r"|バックアップ イメージの準備中にエラーが発生しました.*|詳細エラー:.*)$",
    re.IGNORECASE,
)
# Lines that prove the text is wbadmin start-backup output even when nothing else matched.
_KNOWN = re.compile(
    r"^(?:Retrieving volume information|This will back up|Creating a shadow copy|"
    r"Creating a backup of volume|Summary of the backup operation|Scanning the file system|"
    r"Log of files|Please wait while files|Found \(\d+\) files|Do you want to start the backup|"
    r"ボリューム情報を取得しています|バックアップ操作の概要|.*シャドウ コピーを作成しています|"
    r"ボリューム .* のバックアップを作成しています|.*にバックアップします。|"
    r"正常にバックアップされたファイルのログ|バックアップに失敗したファイルのログ)",
    re.IGNORECASE,
)


def _volume_ok(rest: str) -> bool:
    lowered = rest.lower()
    if "正常に完了" in rest and "しませんでした" not in rest:
        return True
    return (
        ("completed successfully" in lowered or "successfully completed" in lowered)
        and "not" not in lowered.split()
    )


@guarded(TOOL_BACKUP)
def parse_backup_summary(text: str) -> BackupSummary:
    """Parse ``wbadmin start backup`` output (2008 R2 and 2012+ word orders, en-US and ja-JP).

    See the module docstring for the outcome rules. Raises ``ParseError`` for text in which no
    line of wbadmin's backup output is recognised.
    """
    lines = [line.strip() for line in split_lines(text)]
    recognised = False
    success = False
    stopped = False
    target: str | None = None
    volumes: dict[str, VolumeResult] = {}
    errors: list[str] = []
    codes: list[str] = []
    log_path: str | None = None
    error_log_path: str | None = None
    for line in lines:
        if not line:
            continue
        for code in _CODE.findall(line):
            normal = "0x" + code.upper()
            if normal not in codes:
                codes.append(normal)
        log = _log_file(line)
        if log:
            recognised = True
            if log[1]:
                error_log_path = log[0]
            else:
                log_path = log[0]
            continue
        if _is_banner(line):
            recognised = True
            continue
        error = _ERROR_LINE.match(line)
        if error:
            recognised = True
            errors.append(error["msg"].strip() or line)
            continue
        if _SUCCESS.match(line):
            recognised = success = True
            continue
        if _STOPPED.match(line):
            recognised = stopped = True
            errors.append(line)
            continue
        if _FAILURE_NOTE.match(line):
            recognised = True
            errors.append(line)
            continue
        volume = _VOLUME_EN.match(line) or _VOLUME_JA.match(line)
        if volume and volume["vol"].strip():
            recognised = True
            letter = volume["vol"].strip()
            label = volume["label"].strip() or None
            result = VolumeResult(letter.upper() if re.fullmatch(r"[A-Za-z]:", letter) else letter,
                                  label, _volume_ok(volume["rest"]), line)
            volumes[result.volume] = result  # the last line for a volume wins
            continue
        started = _TARGET_EN.match(line) or _TARGET_JA.match(line)
        if started:
            recognised = True
            target = started["t"].strip()
            continue
        if _KNOWN.match(line):
            recognised = True
    if not recognised:
        raise FormatProblem("no line of wbadmin start backup output was recognised")
    failed = stopped or bool(errors) or any(not v.succeeded for v in volumes.values())
    outcome: Literal["success", "failure", "incomplete"]
    if failed:
        outcome = "failure"
    elif success:
        outcome = "success"
    else:
        outcome = "incomplete"
    return BackupSummary(
        outcome=outcome,
        target=target,
        volumes=tuple(volumes.values()),
        errors=tuple(errors),
        error_codes=tuple(codes),
        log_path=log_path,
        error_log_path=error_log_path,
    )


# "Creating a backup of volume (C:), copied (45%)." (2012 and later) and "Creating a backup of volume
# C(C:), copied (98%)." (6.1, 2008 R2): wbadmin rewrites this line as it goes (shared/reference/
# outputs/wbadmin-start-backup_*). The ja-JP text keeps the "(NN%)" form.
_COPIED = re.compile(r"\((\d{1,3})\s*%\)")


def copied_percent(text: str) -> int | None:
    """wbadmin's own progress: the last ``copied (NN%)`` of a running backup's output, or ``None``."""
    found = None
    for line in text.replace("\r", "\n").splitlines():
        if "%" not in line:
            continue
        for m in _COPIED.finditer(line):
            value = int(m.group(1))
            if 0 <= value <= 100:
                found = value
    return found


# --------------------------------------------------------------------------------------------
# start recovery (the restore drill, DRILL-1)

TOOL_RECOVERY = "wbadmin start recovery"
#: The first word of a canary file (clpbackup.render.CANARY_MARK; parsers import nothing above them).
_CANARY = re.compile(r"^clpbackup-canary\s+(?P<job>\S+)\s+(?P<token>\d+)\b(?P<when>.*)$")
_RECOVERED_LOG = re.compile(r"FileRestore(_Error)?-\d{2}-\d{2}-\d{4}_\d{2}-\d{2}-\d{2}\.log", re.IGNORECASE)


@dataclass(frozen=True)
class DrillLog:
    """What a drill script's log says: wbadmin's ``start recovery`` output, then the recovered canary.

    ``token`` (with ``written``, the date and time the canary holds, as the node printed them) is
    ``None`` when no canary came back; ``error`` is wbadmin's own ``ERROR - …`` message, or the
    drill script's ``DRILL-1: …`` line; ``message`` the line wbadmin ended its report with (its
    item summary, e.g. ``Recovery of E:\\…\\j.txt to C:\\clpbackup\\drill\\ successfully
    completed.``) or the error; ``log_path`` the ``FileRestore-….log`` wbadmin named.
    """

    token: str | None
    written: str | None
    job: str | None
    error: str | None
    message: str
    log_path: str | None

    @property
    def recovered(self) -> bool:
        """True when a canary came back and wbadmin reported no error."""
        return self.token is not None and self.error is None


@guarded(TOOL_RECOVERY)
def parse_drill_log(text: str) -> DrillLog:
    """Parse a drill log (``logs\\<job>-drill.log``: ``wbadmin start recovery`` in en-US or ja-JP,
    then the canary line ``clpbackup-canary <job> <token> <date> <time>``). Locale-neutral: the
    verdict rests on the canary line and wbadmin's ``ERROR -`` line, not on its localized prose.
    An empty log raises ``ParseError`` (the drill did not run)."""
    lines = [line.strip() for line in split_lines(text)]
    if not any(lines):
        raise FormatProblem("the drill log is empty (the drill script did not run)")
    token = written = job = error = log_path = None
    report: list[str] = []
    for line in lines:
        canary = _CANARY.match(line)
        if canary:
            token, job, written = canary["token"], canary["job"], canary["when"].strip() or None
            continue
        if error is None:
            error = reported_error(line)
            if error is None and line.startswith("DRILL-1:"):
                error = line
        found = _RECOVERED_LOG.search(line)
        if found:
            start = _PATH_START.search(line)
            log_path = line[start.start():].strip() if start else found.group(0)
        if line and not _is_banner(line):
            report.append(line)
    message = error or _last_summary(report)
    return DrillLog(token, written, job, error, message, log_path)


def _last_summary(report: list[str]) -> str:
    """wbadmin's item summary: the last line naming a recovery target before the totals (the line
    after the dashes of its summary), else the last line of its report."""
    dashes = [i for i, line in enumerate(report) if set(line) == {"-"}]
    if dashes and dashes[-1] + 1 < len(report):
        return report[dashes[-1] + 1]
    return report[-1] if report else ""
