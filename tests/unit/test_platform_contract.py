"""The platform contract: every registered platform answers every question, in the documented shape.

As napalm's ``base/test/getters.py`` runs one test class over every driver, :class:`TestPlatformContract`
runs over every entry of :data:`clpbackup.platforms.PLATFORMS`. The questions are the class-level facts
and the public methods of :class:`~clpbackup.platforms.Platform` (their shapes are documented there);
``test_the_contract_covers_every_question`` fails when a question is added to ``Platform`` without
a check here, and a platform that leaves a question unanswered fails the class. The module also holds
the grep behind "outside ``platforms/`` no code compares an OS string".
"""

from __future__ import annotations

import ast
import inspect
import re
import tokenize
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, get_args

import pytest

from clpbackup.commands import Command
from clpbackup.errors import PlanError, UnsupportedError
from clpbackup.plan import Job, OsVersion
from clpbackup.platforms import (
    PLATFORMS,
    FeatureHint,
    Platform,
    RestoreSteps,
    Win2012,
    canonical_os,
    get_platform,
    os_for_kernel,
    product_for_kernel,
)
from clpbackup.platforms.base import BackupTool, Scheduler

PACKAGE = Path(__file__).resolve().parents[2] / "clpbackup"
_RULE_ID = re.compile(r"^[A-Z]+-\d+$")
_KERNEL = re.compile(r"^\d+\.\d+(\.\d+)?$")


def _is_os(value: Any, key: str) -> bool:
    return value == key and canonical_os(value) == key


def _is_display_name(value: Any, key: str) -> bool:
    # "Windows Server 2008 R2" names the plan's "2008R2": the label and the key cannot drift apart
    return (
        isinstance(value, str)
        and value.startswith("Windows Server ")
        and canonical_os(value.removeprefix("Windows Server ")) == key
    )


def _is_kernel_table(value: Any, key: str) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) and _KERNEL.match(k) for k in value)
        and all(isinstance(v, str) and v.startswith("Windows Server ") for v in value.values())
    )


#: Each class-level fact of ``Platform`` and the shape its docstring promises.
FACTS: dict[str, Any] = {
    "os": _is_os,
    "display_name": _is_display_name,
    "backup_tool": lambda v, _: v in get_args(BackupTool),
    "default_scheduler": lambda v, _: v in get_args(Scheduler),
    "at_deprecated": lambda v, _: isinstance(v, bool),
    "at_available": lambda v, _: isinstance(v, bool),
    "file_level": lambda v, _: isinstance(v, bool),
    "kernel_versions": _is_kernel_table,
    "tool_logs": lambda v, _: isinstance(v, tuple)
    and all(isinstance(p, str) and p[1:3] == ":\\" and p.lower().endswith(".log") for p in v),
}

#: The public methods of ``Platform``, each checked by a test of ``TestPlatformContract``.
METHODS = frozenset({
    "matches_kernel", "product_name",
    "feature_install_hint", "install_command",
    "backup_commands", "batch_values", "selection_file", "failover_commands", "script_rules",
    "schtasks_time", "check_task_run", "schtasks_daily", "schtasks_weekly", "schtasks_once",
    "schtasks_once_next", "schtasks_delete",
    "schtasks_query", "schtasks_run",
    "at_time", "at_daily", "at_once", "at_delete", "at_query",
    "get_versions", "start_recovery", "restore_steps",
})


def unanswered(cls: type[Platform]) -> list[str]:
    """The questions ``cls`` does not answer, or answers in another shape than documented."""
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    key = getattr(cls, "os", "?")
    for name, shaped in FACTS.items():
        if not hasattr(cls, name):
            missing.append(name)
        elif not shaped(getattr(cls, name), key):
            missing.append(f"{name} (shape: {getattr(cls, name)!r})")
    return missing


def sample_job(p: Platform) -> tuple[str, Job]:
    """A job the platform's tool runs: an NTBackup block for NTBackup, a share target for wbadmin."""
    base: dict[str, Any] = {"scope": "switchover", "include": ["E:"], "daily_at": "22:00"}
    if p.backup_tool == "ntbackup":
        base["ntbackup"] = {"tape": "Daily", "library": "DLT"}
    else:
        base["target"] = "\\\\nas01\\bk\\{node}"
    return "data", Job.model_validate(base)


def _commands(value: Any, p: Platform) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(
        isinstance(c, Command) and c.os == p.os and all(isinstance(a, str) for a in c.argv) for c in value
    )


# -- the contract itself ---------------------------------------------------------------------------------


def test_the_contract_covers_every_question() -> None:
    facts = {n for n, t in Platform.__annotations__.items() if "ClassVar" in str(t)}
    methods = {
        n for n, v in inspect.getmembers(Platform) if not n.startswith("_") and inspect.isfunction(v)
    }
    assert facts == set(FACTS), "a fact of Platform has no shape check here (FACTS), or a gone one"
    assert methods == METHODS, "a method of Platform is not covered by TestPlatformContract (METHODS)"


def test_a_platform_without_an_answer_fails_the_contract() -> None:
    class Half(Platform):
        os: ClassVar[str] = "2012"
        display_name: ClassVar[str] = "Windows Server 2012"
        backup_tool: ClassVar[BackupTool] = "wbadmin"
        default_scheduler: ClassVar[Scheduler] = "schtasks"

    missing = unanswered(Half)
    assert {"at_deprecated", "at_available", "file_level", "kernel_versions", "feature_install_hint",
            "backup_commands", "script_rules"} <= set(missing)

    class WrongShape(Win2012):
        kernel_versions: ClassVar[Mapping[str, str]] = {"6": "2012"}

    assert unanswered(WrongShape) == ["kernel_versions (shape: {'6': '2012'})"]


def test_the_plan_accepts_exactly_the_registered_platforms() -> None:
    assert set(get_args(OsVersion)) == set(PLATFORMS)


@pytest.fixture(params=sorted(PLATFORMS), ids=lambda key: f"os={key}")
def platform(request: pytest.FixtureRequest) -> Platform:
    return get_platform(request.param)


class TestPlatformContract:
    """Run over every registered platform (napalm's ``BaseTestGetters``)."""

    def test_answers_every_question(self, platform: Platform) -> None:
        assert unanswered(type(platform)) == []

    def test_method_signatures_are_the_interfaces(self, platform: Platform) -> None:
        # as napalm's test_method_signatures: callers may rely on the interface's parameters
        for name in METHODS:
            ours = inspect.signature(getattr(Platform, name))
            theirs = inspect.signature(getattr(type(platform), name))
            assert [(q.name, q.kind, q.default) for q in theirs.parameters.values()] == [
                (q.name, q.kind, q.default) for q in ours.parameters.values()
            ], name

    def test_kernel_versions_map_back_to_this_os_only(self, platform: Platform) -> None:
        for kernel, product in platform.kernel_versions.items():
            build = kernel + ".1234"
            assert platform.matches_kernel(kernel) and platform.matches_kernel(build)
            assert platform.product_name(build) == product
            assert os_for_kernel(build) == platform.os, f"{kernel} is claimed by another platform first"
            assert product_for_kernel(build) == product
        assert not platform.matches_kernel("99.0.1") and platform.product_name("99.0.1") is None
        assert not platform.matches_kernel("") and not platform.matches_kernel("6")

    def test_feature_install(self, platform: Platform) -> None:
        hint = platform.feature_install_hint()
        argv = platform.install_command()
        # OS-3: Windows Server Backup is an optional feature on every OS that has wbadmin
        assert (hint is None) == (platform.backup_tool == "ntbackup") == (argv is None)
        if hint is None or argv is None:
            return
        assert isinstance(hint, FeatureHint) and hint.shell in ("cmd", "powershell")
        assert hint.feature and hint.command and (hint.core is None or isinstance(hint.core, str))
        assert isinstance(argv, list) and all(isinstance(a, str) and a for a in argv)
        if hint.shell == "powershell":
            assert argv == ["powershell", "-NoProfile", "-Command", hint.command]
        else:
            assert " ".join(argv) == hint.command

    def test_backup_commands(self, platform: Platform) -> None:
        name, job = sample_job(platform)
        cmds = platform.backup_commands(name, job, node="node-a", selection="C:\\clp\\data.bks")
        assert _commands(cmds, platform)
        assert cmds[-1].program == platform.backup_tool

    def test_batch_values(self, platform: Platform) -> None:
        name, job = sample_job(platform)
        values = platform.batch_values(name, job)
        assert isinstance(values, list) and values
        for fld, value in values:
            assert isinstance(fld, str) and fld.startswith(f"jobs.{name}.")
            assert value is None or isinstance(value, str)

    def test_selection_file(self, platform: Platform) -> None:
        name, job = sample_job(platform)
        content = platform.selection_file(name, job)
        assert content is None or (
            # NTBackup's own form: UTF-16 LE without a byte-order mark (FF FE spoils line 1)
            isinstance(content, bytes) and not content.startswith(b"\xff\xfe")
            and content.decode("utf-16-le").endswith("\r\n")
        )

    def test_failover_commands(self, platform: Platform) -> None:
        name, job = sample_job(platform)
        for append in (False, True):
            cmds, appends = platform.failover_commands(
                name, job, node="node-a", selection="C:\\clp\\data.bks", append=append
            )
            assert _commands(cmds, platform) and isinstance(appends, bool)
            assert appends is False or append
        daily = platform.backup_commands(name, job, node="node-a", selection="C:\\clp\\data.bks")
        assert _commands(daily, platform)

    def test_script_rules(self, platform: Platform) -> None:
        name, job = sample_job(platform)
        cmds = platform.backup_commands(name, job, node="node-a", selection="C:\\clp\\data.bks")
        for failover, must in ((False, "JOB-1"), (True, "FO-2")):
            for appends in (False, True):
                rules = platform.script_rules(cmds, failover=failover, appends=appends)
                assert isinstance(rules, list) and must in rules
                assert all(isinstance(r, str) and _RULE_ID.match(r) for r in rules)
                assert len(set(rules)) == len(rules)

    def test_schtasks(self, platform: Platform) -> None:
        assert isinstance(platform.schtasks_time("22:00", field="f"), str)
        run = 'cmd /c "C:\\clp\\data.bat"'
        assert platform.check_task_run(run, field="f") == run
        made = [
            platform.schtasks_daily("clp-data", "22:00", run, field="f"),
            platform.schtasks_once("clp-data-once", "22:00", run, field="f"),
            platform.schtasks_delete("clp-data"),
            platform.schtasks_query(),
            platform.schtasks_run("clp-data"),
        ]
        assert _commands(made, platform) and {c.program for c in made} == {"schtasks"}

    def test_schtasks_weekly(self, platform: Platform) -> None:
        """DRILL-2: every week on one day, as SYSTEM, with the /ST form of the platform; a day that is
        not a schtasks /D name is refused naming the field."""
        run = 'cmd /c "C:\\clp\\data-drill-weekly.bat"'
        made = platform.schtasks_weekly("clp-data-drill-weekly", "SUN", "05:00", run, field="drill.weekly")
        assert _commands([made], platform)
        argv = list(made.argv)
        assert argv[:2] == ["schtasks", "/Create"] and argv[argv.index("/SC") + 1] == "WEEKLY"
        assert argv[argv.index("/D") + 1] == "SUN"
        assert argv[argv.index("/ST") + 1] == platform.schtasks_time("05:00", field="f")
        assert argv[argv.index("/RU") + 1] == "SYSTEM" and "/RP" not in argv
        with pytest.raises(PlanError) as err:
            platform.schtasks_weekly("clp-data-drill-weekly", "Sun", "05:00", run, field="drill.weekly")
        assert err.value.field == "drill.weekly"

    def test_at_facts_agree(self, platform: Platform) -> None:
        # deprecated means "still creates jobs"; where AT creates none the guide's scheduler is schtasks
        assert not (platform.at_deprecated and not platform.at_available)
        assert platform.at_available or platform.default_scheduler == "schtasks"

    def test_schtasks_once_next(self, platform: Platform) -> None:
        """FO-2: the next occurrence, registered through Task Scheduler 2.0, or refused naming FO-2."""
        run = 'cmd /c "C:\\clp\\data.bat"'
        try:
            made = platform.schtasks_once_next("clp-data-once", "22:00", run, field="f")
        except UnsupportedError as exc:
            assert "FO-2" in str(exc) and exc.hint
            return
        assert _commands([made], platform) and made.program == "powershell"

    def test_at(self, platform: Platform) -> None:
        assert isinstance(platform.at_time("22:00", field="f"), str)
        if not platform.at_available:
            for build in (
                lambda: platform.at_daily("22:00", "C:\\clp\\data.bat", field="scheduler"),
                lambda: platform.at_once("22:00", "C:\\clp\\data.bat", field="scheduler"),
                lambda: platform.at_delete(3),
                platform.at_query,
            ):
                with pytest.raises(UnsupportedError, match="OS-1"):
                    build()
            return
        made = [
            platform.at_daily("22:00", "C:\\clp\\data.bat", field="f"),
            platform.at_once("22:00", "C:\\clp\\data.bat", field="f"),
            platform.at_delete(3),
            platform.at_query(),
        ]
        assert _commands(made, platform) and {c.program for c in made} == {"at"}

    def test_restore(self, platform: Platform) -> None:
        if platform.backup_tool == "wbadmin":
            got = platform.get_versions("\\\\nas01\\bk\\node-a", "node-a")
            rec = platform.start_recovery("03/31/2026-21:00", "Volume", ["E:"])
            assert _commands([got, rec], platform)
            with pytest.raises(UnsupportedError):
                platform.restore_steps("DLT")
        else:
            with pytest.raises(UnsupportedError, match="OS-1"):
                platform.get_versions()
            with pytest.raises(UnsupportedError, match="OS-1"):
                platform.start_recovery("03/31/2026-21:00", "Volume", ["E:"])
            steps = platform.restore_steps("DLT")
            assert isinstance(steps, RestoreSteps) and steps.steps
            assert all(isinstance(s, str) for s in steps.steps) and all(
                isinstance(c, Command) for c in steps.commands
            )


# -- the one source of OS facts: no OS name outside platforms/ ------------------------------------------

#: OS names outside platforms/ that decide nothing: the plan's type for ``nodes[].os`` (held equal to
#: PLATFORMS above) and the label of a command built from a bare argv for WinRS.
_ALLOWED = {
    ("plan.py", "OsVersion = Literal["),
    ("transport/winrs.py", 'os="2003"'),
}


def os_literals(path: Path) -> list[tuple[int, str]]:
    """String literals in ``path`` that name an OS (a spelling ``canonical_os`` accepts) or a kernel
    version a platform claims: a comparison, a table or a default that belongs in ``platforms/``."""
    kernels = {k for cls in PLATFORMS.values() for k in cls.kernel_versions}
    found = []
    with tokenize.open(path) as f:
        lines = f.read().splitlines()
    with tokenize.open(path) as f:
        for tok in tokenize.generate_tokens(f.readline):
            if tok.type != tokenize.STRING:
                continue
            try:
                value = ast.literal_eval(tok.string)
            except (ValueError, SyntaxError):
                continue  # an f-string
            if isinstance(value, str) and len(value) <= 16 and (canonical_os(value) or value in kernels):
                found.append((tok.start[0], lines[tok.start[0] - 1].strip()))
    return found


def test_no_os_string_outside_platforms() -> None:
    # the simulator (testing/) models a node's OS and keeps its own personality table
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("platforms/", "testing/")):
            continue
        for line_no, line in os_literals(path):
            if not any(rel == f and snippet in line for f, snippet in _ALLOWED):
                offenders.append(f"clpbackup/{rel}:{line_no}: {line}")
    assert offenders == [], "ask the platform (clpbackup.platforms) instead:\n" + "\n".join(offenders)


def test_the_grep_finds_a_comparison(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('if node.os == "2012":\n    pass\nkernel = {"6.1": 1}\nok = f"{x}2012"\n')
    assert [n for n, _ in os_literals(sample)] == [1, 3]
