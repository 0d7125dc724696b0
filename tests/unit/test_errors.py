"""Errors are values whose text is computed from their fields (node, rule, plan field, hint).

Naming the node or adding advice after an error was made must show in its text (it used to be frozen
in ``args`` when made); the rule ID is a field, not a prefix baked into the message; errors pickle
and unpickle with every field (a ``ParseError`` used not to).
"""

from __future__ import annotations

import pickle

import pytest

from clpbackup.display import ProgressUnavailable
from clpbackup.errors import (
    ClpBackupError,
    ConnectionFailed,
    ParseError,
    PlanError,
    PreflightFailed,
    QuotingError,
    RemoteCommandFailed,
)
from clpbackup.results import ClusterResult, DeployResult, Problem


def test_naming_the_node_later_shows_in_the_text() -> None:
    err = ConnectionFailed("cannot connect", hint="check WinRM")
    assert str(err) == "cannot connect — check WinRM"
    assert err.with_node("node-a") is err
    assert str(err) == "[node-a] cannot connect — check WinRM"
    assert repr(err) == "ConnectionFailed('[node-a] cannot connect — check WinRM')"
    err.with_node("node-b")  # an error already about a node stays about that node
    assert err.node == "node-a"


def test_added_advice_comes_first_and_shows_in_the_text() -> None:
    err = RemoteCommandFailed("schtasks failed", node="node-a", hint="re-run deploy")
    err.add_hint("the backup may have started")
    assert err.hint == "the backup may have started; re-run deploy"
    assert str(err) == "[node-a] schtasks failed — the backup may have started; re-run deploy"
    assert str(ClpBackupError("x").add_hint("do y")) == "x — do y"


def test_the_rule_is_a_field_and_the_text_shows_it_once() -> None:
    err = PreflightFailed(
        "Windows Server Backup is not installed", node="node-a", rule="OS-3", hint="install it"
    )
    assert err.message == "Windows Server Backup is not installed"
    assert str(err) == "[node-a] OS-3: Windows Server Backup is not installed — install it"
    result: ClusterResult[DeployResult] = ClusterResult("deploy", {"node-a": err})
    assert result.all_problems() == [Problem("OS-3", "Windows Server Backup is not installed", "node-a")]
    assert str(result.all_problems()[0]) == "[node-a] OS-3: Windows Server Backup is not installed"


def test_the_plan_field_is_a_field_and_the_text_shows_it_once() -> None:
    err = PlanError("must be HH:MM", field="jobs.a.at", line=7, hint="write 03:00")
    assert err.message == "must be HH:MM"
    assert str(err) == "jobs.a.at (line 7): must be HH:MM — write 03:00"
    err.with_node("node-a")
    assert str(err) == "[node-a] jobs.a.at (line 7): must be HH:MM — write 03:00"
    result: ClusterResult[DeployResult] = ClusterResult("deploy", {"node-a": err})
    assert result.all_problems() == [Problem("ERROR", "jobs.a.at (line 7): must be HH:MM", "node-a")]


@pytest.mark.parametrize(
    "err",
    [
        ClpBackupError("plain"),
        ConnectionFailed("down", node="node-a", hint="h"),
        PlanError("bad", field="jobs.a", line=3, hint="fix it"),
        QuotingError("has a quote", field="jobs.a.target"),
        PreflightFailed("no WSB", node="node-b", rule="OS-3"),
        RemoteCommandFailed("failed", node="n", argv=["schtasks", "/Create"], rc=1, stdout="o", stderr="e"),
        ParseError("schtasks /query", "garbage\nmore", "no header", node="node-a"),
        ProgressUnavailable("tqdm is not installed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle_with_every_field(err: ClpBackupError) -> None:
    err.add_hint("added later")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert vars(back) == vars(err)
    assert str(back) == str(err) and repr(back) == repr(err) and back.args == err.args


# -- per-node values and errors: one helper passes errors through -----------------------------------


def test_then_runs_on_values_and_passes_errors_through_naming_the_node() -> None:
    from clpbackup.operations import _errors, _then, _values

    down = ConnectionFailed("down", node="node-b")

    def check(node: str, value: int) -> str:
        if value < 0:
            raise PreflightFailed("negative", rule="OS-1")  # made without a node: _then names it
        return f"{node}={value}"

    out = _then({"node-a": 1, "node-b": down, "node-c": -1}, check)
    assert list(out) == ["node-a", "node-b", "node-c"]
    assert out["node-a"] == "node-a=1" and out["node-b"] is down
    err = out["node-c"]
    assert isinstance(err, PreflightFailed) and str(err) == "[node-c] OS-1: negative"
    assert _values(out) == {"node-a": "node-a=1"} and list(_errors(out)) == ["node-b", "node-c"]


def test_restore_source_shares_the_result_base() -> None:
    from clpbackup.results import NodeOutcome, Outcome, RestoreSource

    found = RestoreSource("E:", "node-a", "shared-daily", "v1", "wbadmin start recovery")
    none = RestoreSource("E:", None, "shared-daily", None, None)
    blocked = RestoreSource("E:", "node-a", "shared-daily", "v1", None, problems=[Problem("WSB-3", "local")])
    assert isinstance(found, Outcome) and issubclass(NodeOutcome, Outcome)
    assert (found.ok, none.ok, blocked.ok) == (True, False, False)
    data = found.to_json()
    assert data["ok"] is True and data["kind"] == "RestoreSource" and data["node"] == "node-a"
    assert DeployResult("node-a").to_json()["kind"] == "DeployResult"
