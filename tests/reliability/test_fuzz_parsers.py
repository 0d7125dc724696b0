"""Fuzzing every reader of node output across tools, locales and code pages.

The per-parser tests (``tests/unit/test_parsers_*.py``) mutate each parser's own fixtures as text.
These tests go around them:

* **bytes, not text** — a fixture's stored bytes (en-US output in cp437, ja-JP in cp932, NTBackup
  logs and schtasks XML in UTF-16 LE), or the same text re-encoded (UTF-8 with a BOM, UTF-16 LE
  without one, the other locale's code page), are cut, spliced and corrupted at the byte level —
  a Shift_JIS character split in half, a stray BOM, an odd length for UTF-16 — and decoded with
  **both** code pages (437 and 932) as a node with the wrong ``connection.codepage`` would;
* **every parser gets every tool's output** — wbadmin text to the schtasks parsers, a clpstat frame
  to the NTBackup log reader, and so on;
* **both locales at once** — lines of the other locale's fixture of the same tool spliced in;
* **the readers above the parsers** — the ``inspect``/``apply`` Hashtables the node sends back
  (``transport/_wire.py``), mutated in shape and type; and ``nodestate`` reading a whole status
  answer (task list, AT list, wbadmin versions, job logs, clpstat) made of mutated outputs, then
  judging schedules and versions from it.

The contract in each case: a result of the documented type, or :class:`~clpbackup.errors.ParseError`
(at the operations level: any :class:`~clpbackup.errors.ClpBackupError`) — never another exception,
and never a hang (each call is timed).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from clpbackup.errors import ClpBackupError, ParseError
from clpbackup.nodestate import build_inspect, newest_versions, read_state, schedule_status
from clpbackup.parsers import (
    decode,
    group_owner,
    parse_at_created,
    parse_at_job,
    parse_at_list,
    parse_backup_summary,
    parse_clpstat,
    parse_create_output,
    parse_delete_output,
    parse_end_output,
    parse_ntbackup_log,
    parse_query_csv,
    parse_query_list,
    parse_query_xml,
    parse_run_output,
    parse_version_id,
    parse_versions,
)
from clpbackup.parsers.eventlog import parse_events
from clpbackup.plan import Plan
from clpbackup.transport._wire import parse_apply, parse_inspect, select_output
from clpbackup.transport.types import (
    ApplyRequest,
    CommandResult,
    FileState,
    FileWrite,
    InspectRequest,
    InspectResult,
    NodeFacts,
    VolumeInfo,
)
from tests.helpers.parsers import FIXTURES, codepage_of
from tests.reliability._profiles import fuzz

pytestmark = pytest.mark.reliability

#: Seconds one parser call may take on the slowest CI machine before it counts as a hang.
HANG = 5.0

# -- every reader of tool output, and what it returns ------------------------------------------------

PARSERS: dict[str, tuple[Callable[[str], Any], type | tuple[type, ...]]] = {
    "at list": (parse_at_list, list),
    "at created": (parse_at_created, int),
    "at job": (parse_at_job, object),
    "clpstat": (parse_clpstat, object),
    "clpstat owner": (lambda text: group_owner(text, "failover1"), (str, type(None))),
    "ntbackup log": (parse_ntbackup_log, object),
    "schtasks csv": (parse_query_csv, list),
    "schtasks list": (parse_query_list, list),
    "schtasks xml": (parse_query_xml, list),
    "schtasks create": (parse_create_output, object),
    "schtasks run": (parse_run_output, object),
    "schtasks delete": (parse_delete_output, object),
    "schtasks end": (parse_end_output, object),
    "wbadmin versions": (parse_versions, list),
    "wbadmin summary": (parse_backup_summary, object),
    "wbadmin version id": (parse_version_id, datetime),
    "event read-back": (parse_events, list),  # ALERT-1
}

FIXTURE_FILES: list[Path] = sorted(p for p in FIXTURES.glob("*/*/*") if p.is_file())


def _where(path: Path) -> str:
    return path.parent.name  # 2012-ja-JP …


def _tool(path: Path) -> str:
    return path.parent.parent.name  # wbadmin …


# -- byte-level mutation ----------------------------------------------------------------------------------

_NOISE_BYTES = [
    b"\x00", b"\xff", b"\xfe", b"\x81", b"\x82", b"\x9f", b"\xe0", b"\xfc", b"\x82\xa0",
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\r", b"\n", b"\r\n", b"\x85", b"\xa0", b"\x1a",
    "エラー".encode("cp932"), "午後 11:00".encode("cp932"), "　".encode("cp932"), b"Error",
    b":", b",", b'"', b"0", b"9", b"/", b"-", b"2013/03/08", b"12:00 AM", b"\t", b"<", b">",
    b"<Task>", b"]]>", b"&amp;", b"&#0;",
]
_NOISE = st.one_of(st.sampled_from(_NOISE_BYTES), st.binary(min_size=1, max_size=8))


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` after 1-4 byte-level edits (truncation first among equals: a cut-off output)."""
    ops = draw(
        st.lists(
            st.sampled_from(["truncate", "truncate", "delete", "insert", "replace", "dup", "swap", "flip"]),
            min_size=1,
            max_size=4,
        )
    )
    for op in ops:
        n = len(data)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 400)))
        if op == "truncate":
            data = data[:i]
        elif op == "delete":
            data = data[:i] + data[j:]
        elif op == "insert":
            data = data[:i] + draw(_NOISE) + data[i:]
        elif op == "replace":
            data = data[:i] + draw(_NOISE) + data[j:]
        elif op == "dup":
            data = data[:j] + data[i:j] + data[j:]
        elif op == "flip" and n:
            k = min(i, n - 1)
            data = data[:k] + bytes([data[k] ^ draw(st.integers(1, 255))]) + data[k + 1 :]
        else:
            lines = data.split(b"\n")
            a = draw(st.integers(0, len(lines) - 1))
            b = draw(st.integers(0, len(lines) - 1))
            lines[a], lines[b] = lines[b], lines[a]
            data = b"\n".join(lines)
    return data


def _encodings_of(path: Path) -> list[tuple[str, Callable[[bytes], bytes]]]:
    """The fixture's own bytes, and the same text in other encodings a node might print."""
    raw = path.read_bytes()
    text = decode(raw, codepage_of(_where(path)))
    return [
        ("stored", lambda _raw: raw),
        ("utf-8 bom", lambda _raw: b"\xef\xbb\xbf" + text.encode("utf-8")),
        ("utf-16le", lambda _raw: text.encode("utf-16-le")),
        ("cp932", lambda _raw: text.encode("cp932", errors="replace")),
        ("cp437", lambda _raw: text.encode("cp437", errors="replace")),
    ]


@st.composite
def node_output(draw: st.DrawFn, paths: list[Path] | None = None) -> tuple[str, bytes]:
    """``(description, bytes)``: a fixture in some encoding, mutated, maybe spliced with the other
    locale's output of the same tool."""
    path = draw(st.sampled_from(paths or FIXTURE_FILES))
    name, encode = draw(st.sampled_from(_encodings_of(path)))
    data = encode(path.read_bytes())
    if draw(st.booleans()):
        others = [
            p
            for p in FIXTURE_FILES
            if _tool(p) == _tool(path) and _where(p).endswith("ja-JP") != _where(path).endswith("ja-JP")
        ]
        if others:
            other = draw(st.sampled_from(others)).read_bytes()
            cut = draw(st.integers(0, len(data)))
            at = draw(st.integers(0, len(other)))
            data = data[:cut] + other[at:]  # the start of one locale's output, the end of the other's
            name += "+spliced"
    if draw(st.integers(0, 9)) > 0:
        data = draw(mutated_bytes(data))
    return f"{_tool(path)}/{_where(path)}/{path.name} ({name})", data


def run_parser(label: str, func: Callable[[str], Any], want: type | tuple[type, ...], text: str) -> str:
    """Call one parser; assert result-or-ParseError and no hang; return the outcome's name."""
    start = time.perf_counter()
    try:
        result = func(text)
    except ParseError as exc:
        outcome = "ParseError"
        assert isinstance(str(exc), str) and exc.tool and len(exc.first_lines) <= 5
    else:
        outcome = "result"
        assert isinstance(result, want), f"{label} returned {type(result).__name__}"
    elapsed = time.perf_counter() - start
    assert elapsed < HANG, f"{label} took {elapsed:.1f} s on {len(text)} characters"
    return outcome


# -- the properties ------------------------------------------------------------------------------------------


@fuzz(400)
@given(output=node_output(), codepage=st.sampled_from([437, 932]))
def test_every_parser_on_any_output_in_any_code_page(output: tuple[str, bytes], codepage: int) -> None:
    """decode → every parser: a result or ParseError, whatever the tool, locale and code page."""
    _desc, data = output
    try:
        text = decode(data, codepage)
    except ParseError as exc:
        assert exc.tool == "decode"
        event("decode refused the bytes")
        text = data.decode(f"cp{codepage}", errors="replace")  # what .NET hands over on the node
    results = 0
    for label, (func, want) in PARSERS.items():
        results += run_parser(label, func, want, text) == "result"
    # the NTBackup reader also takes the log file's bytes directly
    results += run_parser("ntbackup log (bytes)", parse_ntbackup_log, object, data) == "result"  # type: ignore[arg-type]
    event(f"parsers that returned a result: {min(results, 4)}{'+' if results >= 4 else ''}")


@fuzz(40)
@given(data=st.binary(max_size=300), codepage=st.sampled_from([437, 932, 1200, 65001]))
def test_decode_of_arbitrary_bytes(data: bytes, codepage: int) -> None:
    try:
        text = decode(data, codepage)
    except ParseError as exc:
        assert exc.tool == "decode" and "code page" in str(exc)
        return
    assert isinstance(text, str) and not text.startswith("\ufeff")


# -- the inspect / apply Hashtables ----------------------------------------------------------------------

_CONTENT = "rem 業務データ\r\n".encode("cp932")
_INSPECT_REQ = InspectRequest(
    hash_paths=["C:\\clpbackup\\a.bat"],
    read_paths=["C:\\clpbackup\\logs\\a.log"],
    commands=[["schtasks", "/query", "/fo", "csv", "/v"], ["at"]],
    probe_volumes=["E:"],
    scripts_dir="C:\\clpbackup",
    clpstat=True,
)
_INSPECT_OUT: dict[str, Any] = {
    "op": "inspect",
    "version": 1,
    "facts": {
        "hostname": "NODE-A", "os_version": "6.2.9200", "os_caption": "Windows Server 2012",
        "ps_version": "4.0", "oem_codepage": 932,
        "volumes": [{"letter": "C:", "present": True, "writable": True},
                    {"letter": "E:", "present": False, "writable": False}],
        "schedule_start_mode": "Auto", "schedule_state": "Running", "wsb_installed": True,
        "scripts_dir_exists": True, "clpstat": None,
    },
    "files": [
        {"path": "C:\\clpbackup\\a.bat", "sha256": hashlib.sha256(_CONTENT).hexdigest(),
         "content_base64": None, "error": None},
        {"path": "C:\\clpbackup\\logs\\a.log", "sha256": hashlib.sha256(_CONTENT).hexdigest(),
         "content_base64": base64.b64encode(_CONTENT).decode("ascii"), "error": None},
    ],
    "commands": [
        {"index": 0, "program": "schtasks", "arguments": "/query", "rc": 0, "stdout": "x", "stderr": "",
         "ran": True},
        {"index": 1, "program": "at", "arguments": "", "rc": None, "stdout": "", "stderr": "stopped",
         "ran": True},
    ],
}
_APPLY_REQ = ApplyRequest(
    writes=[FileWrite("C:\\clpbackup\\a.bat", _CONTENT)], deletes=["C:\\clpbackup\\old.bat"],
    commands=[["schtasks", "/create", "/tn", "t"]],
)
_APPLY_OUT: dict[str, Any] = {
    "op": "apply",
    "version": 1,
    "files": [{"path": "C:\\clpbackup\\a.bat", "changed": True,
               "sha256": hashlib.sha256(_CONTENT).hexdigest().upper(), "error": None}],
    "deleted": ["C:\\clpbackup\\old.bat"],
    "delete_errors": [],
    "commands": [{"index": 0, "program": "schtasks", "arguments": "/create", "rc": 1, "stdout": "",
                  "stderr": "ERROR", "ran": True}],
}
_ODD_VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 2**40, 1.5, "", "x", "C:\\", b"\x00", [], {}, [None], [{}],
                     {"op": "inspect"}, "not base64!", "A" * 3, "ZZ=="]),
    st.text(max_size=10),
    st.integers(),
)


def _containers(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        if isinstance(value, (dict, list)):
            out += _containers(value, (*path, key))
        else:
            out.append((*path, key))
    return out


@st.composite
def mutated_table(draw: st.DrawFn, table: dict[str, Any]) -> Any:
    """The Hashtable with 1-4 keys removed, values of the wrong type, or items added or dropped."""
    data = copy.deepcopy(table)
    for _ in range(draw(st.integers(1, 4))):
        spots = [p for p in _containers(data) if p]
        if not spots:
            break
        path = draw(st.sampled_from(spots))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = draw(st.sampled_from(["remove", "retype", "retype", "duplicate"]))
        if action == "remove":
            del parent[key]
        elif action == "retype":
            parent[key] = copy.deepcopy(draw(_ODD_VALUES))  # sampled lists and dicts are shared objects
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = [copy.deepcopy(parent[key])]
    return data


@fuzz(300)
@given(which=st.sampled_from(["inspect", "apply"]), data=st.data())
def test_mutated_operation_answers_give_a_result_or_parse_error(which: str, data: st.DataObject) -> None:
    base = _INSPECT_OUT if which == "inspect" else _APPLY_OUT
    table = data.draw(mutated_table(base), label="answer")
    outputs = data.draw(st.sampled_from([[table], [table, table], ["noise", table], []]), label="output")
    try:
        selected = select_output(outputs, which, "node-a")
        if which == "inspect":
            parse_inspect(selected, _INSPECT_REQ, node="node-a")
        else:
            parse_apply(selected, _APPLY_REQ, node="node-a")
    except ParseError as exc:
        assert exc.node == "node-a" and f"the {which} operation" in str(exc)
        event(f"{which}: ParseError")
    else:
        event(f"{which}: result")


def test_the_untouched_operation_answers_parse() -> None:
    """The fuzz above starts from answers that are valid (so a ParseError there means the mutation)."""
    result = parse_inspect(_INSPECT_OUT, _INSPECT_REQ, node="node-a")
    assert result.files["C:\\clpbackup\\logs\\a.log"].content == _CONTENT
    assert result.facts is not None and result.facts.oem_codepage == 932
    applied = parse_apply(_APPLY_OUT, _APPLY_REQ, node="node-a")
    assert applied.files[0].changed and applied.commands[0].rc == 1


# -- a whole status answer made of mutated outputs -------------------------------------------------------

_EXAMPLES = Path(__file__).resolve().parents[2] / "clpbackup" / "examples"
_STATUS_PLANS = ["ws2003-ntbackup.yaml", "ws2008r2-wsb.yaml", "ws2012-wsb.yaml", "ws2012-ja.yaml"]
_SOURCES = {
    "schtasks": sorted(FIXTURES.glob("schtasks/*/query-*.txt")),
    "at": sorted(FIXTURES.glob("at/*/list-*.txt")),
    "versions": sorted(FIXTURES.glob("wbadmin/*/get-versions_*.txt")),
    "log": sorted(FIXTURES.glob("wbadmin/*/start-backup_*.txt")) + sorted(FIXTURES.glob("ntbackup/*/*.log")),
    "clpstat": sorted(FIXTURES.glob("clpstat/*/*.txt")),
}


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CLPBACKUP_PASSWORD", "unused")
    try:
        return {name: Plan.from_file(_EXAMPLES / name) for name in _STATUS_PLANS}
    finally:
        mp.undo()


@fuzz(150)
@given(plan_name=st.sampled_from(_STATUS_PLANS), node_index=st.integers(0, 1), data=st.data())
def test_status_read_from_mutated_node_output(
    plans: dict[str, Plan], plan_name: str, node_index: int, data: st.DataObject
) -> None:
    """nodestate reads a status answer whose every text is a mutated output (any locale and code
    page): a NodeState or a ClpBackupError, and the schedule and version verdicts built from it."""
    plan = plans[plan_name]
    node = plan.nodes[node_index]
    art = plan.render()[node.name]
    request, probes = build_inspect(plan, node, art, logs=True, versions=True)
    codepage = data.draw(st.sampled_from([437, 932]), label="codepage")

    def text_of(kind: str) -> str:
        _desc, raw = data.draw(node_output(_SOURCES[kind]), label=kind)
        return raw.decode(f"cp{codepage}", errors="replace")

    commands = [
        CommandResult(
            argv=("x",), rc=data.draw(st.sampled_from([0, 0, 0, 1, None]), label="rc"),
            stdout=text_of(kind), stderr="",
        )
        for kind in (p.kind for p in probes)
    ]
    files: dict[str, FileState] = {}
    for path in request.read_paths:
        _desc, raw = data.draw(node_output(_SOURCES["log"]), label="log")
        files[path] = FileState(path, hashlib.sha256(raw).hexdigest(), raw)
    facts = NodeFacts(
        hostname=node.name, os_version="6.2.9200", os_caption="", ps_version="4.0", oem_codepage=codepage,
        volumes=(VolumeInfo("E:", True, True),), schedule_start_mode="Auto", schedule_state="Running",
        wsb_installed=True, clpstat=text_of("clpstat"),
    )
    result = InspectResult(facts=facts, files=files, commands=commands)
    try:
        state = read_state(plan, node, probes, result)
        owner = data.draw(st.sampled_from([True, False, None]), label="owner")
        statuses = schedule_status(plan, node, art, state, owner)
        versions = newest_versions(plan, node, state)
    except ClpBackupError as exc:
        event(f"refused: {type(exc).__name__}")
        return
    assert {s.job for s in statuses if s.job} <= set(plan.jobs)
    assert all(isinstance(s.verdict, str) and s.verdict for s in statuses)
    assert set(versions) <= set(plan.jobs)
    event(f"read: {len(state.errors)} listing(s) kept as errors")
