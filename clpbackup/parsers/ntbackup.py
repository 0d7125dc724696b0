r"""Parse an NTBackup log (Windows Server 2003; en-US, ja-JP) into backup/verify sets and a verdict.

Pure code, no I/O. NTBackup writes ``backup01.log`` … ``backup10.log`` in the profile of the account
that ran the job (``…\Local Settings\Application Data\Microsoft\Windows NT\NTBackup\data\``) as
**UTF-16 LE with a BOM**; :func:`parse_log` accepts those bytes or already-decoded text. Exit codes
of ntbackup are not trusted by anyone: success is judged from this log (rule NT-2).

The format, as the simulator should write it
============================================
No real log was captured for this project (reference gap §8.3). The en-US lines below are from
general knowledge of NTBackup logs **[assumed]**, except the VSS lines quoted by
``windows-tools.md`` from a real report (``Error returned while creating the volume shadow
copy:800423f2``, ``Reverting to non-shadow copy backup mode.``) and ``Backup completed on …`` /
``Verify completed on …`` [ref]. **Every ja-JP line is assumed**: the parser therefore keys on
short stems (``バックアップの状態``, ``開始``/``完了``, ``メディア名``) and on the structure, and
accepts ``:``/``：`` and an optional ``。``. en-US::

    Backup Status
    Operation: Backup
    Active backup destination: 4mm DDS
    Media name: "clpbackup-node-a created 3/8/2013 at 1:00 AM"

    Volume shadow copy creation: Attempt 1.
    Backup (via shadow copy) of "E: Shared"
    Backup set #1 on media #1
    Backup description: "shared-daily"
    Media name: "clpbackup-node-a created 3/8/2013 at 1:00 AM"

    Backup Type: Normal

    Backup started on 3/8/2013 at 1:00 AM.
    Warning: Unable to open "E:\db\lock.dat" - skipped.
    Reason: The process cannot access the file because it is being used by another process.
    Backup completed on 3/8/2013 at 1:42 AM.
    Directories: 312
    Files: 10482
    Bytes: 2,345,678,901
    Time:  42 minutes and 7 seconds

    ----------------------

    Verify Status
    Operation: Verify
    ...
    Verify of "E: Shared"
    Backup set #1 on media #1
    ...
    Verify started on 3/8/2013 at 1:42 AM.
    Verify completed on 3/8/2013 at 2:10 AM.
    Directories: 312
    Files: 10482
    Different: 0
    Bytes: 2,345,678,901
    Time:  28 minutes and 3 seconds

    ----------------------

Failure (VSS cannot snapshot a volume, rule JOB-4)::

    Volume shadow copy creation: Attempt 1.
    Error returned while creating the volume shadow copy:8004230c
    Aborting Backup.

    ----------------------

    The operation did not successfully complete.

VSS fallback (the backup continues without a snapshot; open files are skipped)::

    Error returned while creating the volume shadow copy:800423f2
    Reverting to non-shadow copy backup mode.
    Backup of "E: Shared"

ja-JP [assumed]::

    バックアップの状態
    操作: バックアップ
    アクティブなバックアップ先: 4mm DDS
    メディア名: "clpbackup-node-b 作成日 2013/03/08 1:00"
    ボリューム シャドウ コピーの作成: 試行 1。
    "E: Shared" のバックアップ (シャドウ コピー経由)          ("E: Shared" のバックアップ without VSS)
    メディア #1 のバックアップ セット #1
    バックアップの説明: "shared-daily"
    バックアップの種類: 標準
    バックアップ開始: 2013/03/08 1:00
    警告: "E:\db\lock.dat" を開けません - スキップしました。
    理由: 別のプロセスがファイルを使用中のため、プロセスはファイルにアクセスできません。
    バックアップ完了: 2013/03/08 1:42
    ディレクトリ: 312 / ファイル: 10482 / バイト: 2,345,678,901 / 時間: 42 分 7 秒
    確認の状態 / 操作: 確認 / "E: Shared" の確認 / 確認開始: … / 確認完了: … / 相違: 0
    ボリューム シャドウ コピーの作成中にエラーが返されました: 8004230c
    非シャドウ コピー バックアップ モードに戻します。                (VSS fallback)
    バックアップを中止します。                                        (aborted)
    操作は正常に完了しませんでした。                                  (failed)

Verdict (:attr:`NtbackupLog.ok`): at least one backup set, every set that started also completed,
and no error line (``Aborting …``, ``The operation did not successfully complete.``, ``Error: …``,
``The operation was ended.``). A VSS error followed by the fallback line is reported
(``vss_error_codes``, ``vss_fallback``) but is not an error by itself; skipped files are warnings.
Lines not listed (the file names of a ``/L:f`` log) are ignored inside a recognised log; text with
no operation header and no set is not an NTBackup log → ``ParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from clpbackup.parsers.common import (
    FormatProblem,
    decode,
    guarded,
    is_blank,
    parse_local_datetime,
    split_lines,
)

__all__ = ["NtbackupLog", "NtbackupSet", "Operation", "parse_log"]

Operation = Literal["backup", "verify", "restore"]

_OPS: dict[str, Operation] = {
    "backup": "backup", "verify": "verify", "restore": "restore",
    "バックアップ": "backup", "確認": "verify", "検証": "verify", "復元": "restore",
}


@dataclass(frozen=True)
class NtbackupSet:
    """One backup (or verify / restore) set of the log: one volume or path on one medium."""

    operation: Operation
    volume: str
    via_shadow_copy: bool
    set_number: int | None = None
    media_number: int | None = None
    description: str | None = None
    media_name: str | None = None
    backup_type: str | None = None
    started: datetime | None = None
    completed: datetime | None = None
    started_text: str | None = None
    completed_text: str | None = None
    directories: int | None = None
    files: int | None = None
    bytes: int | None = None
    different: int | None = None

    @property
    def finished(self) -> bool:
        """True when the set's "completed" line was written."""
        return self.completed_text is not None


@dataclass(frozen=True)
class NtbackupLog:
    """The summary of one NTBackup log.

    ``vss_error_codes`` are ``0x`` + 8 upper-case hex digits; ``vss_fallback`` is True when
    NTBackup fell back to a non-snapshot backup. ``media_name`` and ``destination`` are the first
    ones in the log.
    """

    sets: tuple[NtbackupSet, ...]
    media_name: str | None
    destination: str | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    vss_error_codes: tuple[str, ...]
    vss_fallback: bool
    operations: tuple[Operation, ...] = field(default=())

    @property
    def backup_sets(self) -> tuple[NtbackupSet, ...]:
        """The sets of the backup operation(s)."""
        return tuple(s for s in self.sets if s.operation == "backup")

    @property
    def verify_sets(self) -> tuple[NtbackupSet, ...]:
        """The sets of the verify operation(s)."""
        return tuple(s for s in self.sets if s.operation == "verify")

    @property
    def backup_completed(self) -> int:
        """How many ``Backup completed on …`` lines the log has."""
        return sum(1 for s in self.backup_sets if s.finished)

    @property
    def verify_completed(self) -> int:
        """How many ``Verify completed on …`` lines the log has."""
        return sum(1 for s in self.verify_sets if s.finished)

    @property
    def ok(self) -> bool:
        """True when the backup succeeded (see the module docstring for the rule)."""
        return bool(self.backup_sets) and all(s.finished for s in self.sets) and not self.errors


_OP_WORDS = r"(?P<op>Backup|Verify|Restore|バックアップ|確認|検証|復元)"
_STATUS = re.compile(r"^" + _OP_WORDS + r"\s*(?:Status|の状態)$", re.IGNORECASE)
_SET_EN = re.compile(
    r"^" + _OP_WORDS + r"(?P<vss> \(via shadow copy\))? of \"(?P<vol>.*)\"$", re.IGNORECASE
)
_SET_JA = re.compile(r"^\"(?P<vol>.*)\"\s*の" + _OP_WORDS + r"\s*(?P<vss>[(（]シャドウ ?コピー経由[)）])?$")
_SET_NUMBER = re.compile(
    r"^(?:Backup|Verify|Restore) set #(?P<set>\d+) on media #(?P<media>\d+)"
    r"|^メディア #(?P<media_ja>\d+) の\S* ?セット #(?P<set_ja>\d+)",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^(?P<key>[^:：\"]+?)\s*[:：]\s*(?P<value>.*?)\s*$")
_STARTED_EN = re.compile(
    r"^" + _OP_WORDS + r" (?P<what>started|completed) on (?P<date>\S+) at (?P<time>.+?)\.?$", re.IGNORECASE
)
_STARTED_JA = re.compile(r"^" + _OP_WORDS + r"\s*(?P<what>開始|完了)(?:日時)?\s*[:：]?\s*(?P<when>.*?)。?$")
_VSS_ERROR = re.compile(
    r"(?:Error returned while creating the volume shadow copy|ボリューム シャドウ コピーの作成中にエラー)"
    r"[^:：]*[:：]\s*(?:0x)?(?P<code>[0-9A-Fa-f]{8})",
    re.IGNORECASE,
)
_FALLBACK = re.compile(r"Reverting to non-shadow copy|非シャドウ コピー", re.IGNORECASE)
_ERROR = re.compile(
    r"^(?:Error\b.*|Aborting.*|The operation did not successfully complete.*|The operation was ended.*"
    r"|エラー[:：].*|.*を中止します.*|.*中止しています.*|操作は正常に完了しませんでした.*|操作は終了されました.*)$",
    re.IGNORECASE,
)
_WARNING = re.compile(r"^(?:Warning|警告)\s*[:：]\s*(?P<text>.*)$", re.IGNORECASE)
_REASON = re.compile(r"^(?:Reason|理由)\s*[:：]\s*(?P<text>.*)$", re.IGNORECASE)

_LABELS: dict[str, str] = {
    "media name": "media", "メディア名": "media",
    "backup description": "description", "バックアップの説明": "description",
    "backup type": "type", "バックアップの種類": "type",
    "active backup destination": "destination", "アクティブなバックアップ先": "destination",
    "directories": "directories", "ディレクトリ": "directories",
    "files": "files", "ファイル": "files", "ファイル数": "files",
    "bytes": "bytes", "バイト": "bytes", "バイト数": "bytes",
    "different": "different", "相違": "different",
    "operation": "operation", "操作": "operation",
}


def _count(value: str, label: str) -> int:
    digits = value.replace(",", "").replace(".", "").replace(" ", "")
    if not digits.isdigit():
        raise FormatProblem(f"{label} {value!r} is not a number")
    return int(digits)


def _moment(text: str) -> datetime | None:
    try:
        return parse_local_datetime(text)
    except FormatProblem as exc:
        raise FormatProblem(f"time {text!r}: {exc.reason}") from None


def parse_log(data: str | bytes) -> NtbackupLog:
    """Parse an NTBackup log given as its file bytes (UTF-16 LE) or as text.

    Raises ``ParseError`` for bytes that are not UTF-16 text and for text that is not an NTBackup
    log in en-US or ja-JP.
    """
    text = decode(data, 1200) if isinstance(data, bytes) else data
    return _parse_text(text)


@guarded("ntbackup log")
def _parse_text(text: str) -> NtbackupLog:
    lines = [line.strip() for line in split_lines(text)]
    sets: list[NtbackupSet] = []
    operations: list[Operation] = []
    current_op: Operation | None = None
    media_name: str | None = None
    destination: str | None = None
    errors: list[str] = []
    warnings: list[str] = []
    codes: list[str] = []
    fallback = False
    for line in lines:
        if is_blank(line) or set(line) <= {"-"}:
            continue
        status = _STATUS.match(line)
        if status:
            current_op = _OPS[status["op"].casefold()]
            operations.append(current_op)
            continue
        vss = _VSS_ERROR.search(line)
        if vss:
            code = "0x" + vss["code"].upper()
            if code not in codes:
                codes.append(code)
            continue
        if _FALLBACK.search(line):
            fallback = True
            continue
        opened = _SET_EN.match(line) or _SET_JA.match(line)
        if opened:
            sets.append(
                NtbackupSet(
                    operation=_OPS[opened["op"].casefold()],
                    volume=opened["vol"].strip(),
                    via_shadow_copy=bool(opened["vss"]),
                )
            )
            continue
        number = _SET_NUMBER.match(line)
        if number:
            if sets:
                set_no = number["set"] or number["set_ja"]
                media_no = number["media"] or number["media_ja"]
                sets[-1] = replace(sets[-1], set_number=int(set_no), media_number=int(media_no))
            continue
        moment = _STARTED_EN.match(line)
        when_text: str | None = None
        if moment:
            when_text = f"{moment['date']} {moment['time']}"
        else:
            moment = _STARTED_JA.match(line)
            if moment:
                when_text = moment["when"]
        if moment and when_text is not None:
            op = _OPS[moment["op"].casefold()]
            if not sets or sets[-1].operation != op:
                # A "started" line without its "… of" line (short log level): an unnamed set.
                sets.append(NtbackupSet(operation=op, volume="", via_shadow_copy=False))
            if moment["what"].casefold() in ("started", "開始"):
                sets[-1] = replace(sets[-1], started=_moment(when_text), started_text=when_text)
            else:
                sets[-1] = replace(sets[-1], completed=_moment(when_text), completed_text=when_text)
            continue
        warning = _WARNING.match(line)
        if warning:
            warnings.append(warning["text"])
            continue
        reason = _REASON.match(line)
        if reason and warnings:
            warnings[-1] = f"{warnings[-1]} ({reason['text']})"
            continue
        if _ERROR.match(line):
            errors.append(line)
            continue
        label = _LABEL.match(line)
        if label:
            kind = _LABELS.get(label["key"].strip().casefold())
            value = label["value"].strip().strip('"')
            if kind == "media":
                media_name = media_name or value
                if sets and sets[-1].media_name is None:
                    sets[-1] = replace(sets[-1], media_name=value)
            elif kind == "destination":
                destination = destination or value
            elif kind == "description" and sets:
                sets[-1] = replace(sets[-1], description=value)
            elif kind == "type" and sets:
                sets[-1] = replace(sets[-1], backup_type=value)
            elif kind == "directories" and sets:
                sets[-1] = replace(sets[-1], directories=_count(value, label["key"]))
            elif kind == "files" and sets:
                sets[-1] = replace(sets[-1], files=_count(value, label["key"]))
            elif kind == "bytes" and sets:
                sets[-1] = replace(sets[-1], bytes=_count(value, label["key"]))
            elif kind == "different" and sets:
                sets[-1] = replace(sets[-1], different=_count(value, label["key"]))
            elif kind == "operation" and current_op is None:
                op_value = _OPS.get(value.casefold())
                if op_value is not None:
                    current_op = op_value
                    operations.append(op_value)
    if not operations and not sets:
        raise FormatProblem("no 'Backup Status' header and no backup set: not an NTBackup log")
    return NtbackupLog(
        sets=tuple(sets),
        media_name=media_name,
        destination=destination,
        errors=tuple(errors),
        warnings=tuple(warnings),
        vss_error_codes=tuple(codes),
        vss_fallback=fallback,
        operations=tuple(operations),
    )
