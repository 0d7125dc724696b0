"""The password leaks nowhere: every operation, the CLI and Ansible at -vvv, with faults and wrong
passwords, against simulated nodes whose every received byte is kept.

One test (:func:`test_the_password_appears_nowhere`) drives the whole surface with a recognisable
password (and a recognisable *wrong* one, which is a secret too) and scans everything an operator, a
log collector or an eavesdropper could see:

* every log record at DEBUG (root logger, every library turned up to DEBUG, exceptions formatted
  with their tracebacks and causes) and every Python warning;
* every result and error: ``repr``, ``str``, ``to_json``, the notebook views (HTML, Markdown), the
  full traceback chain of each exception, ``describe()``, its pickle; the plan, its connection, the sessions;
* every rendered file, and every file, scheduled task and program run on the simulated nodes;
* the CLI's output (every operational subcommand, text and JSON, ``demo`` and ``simulate``);
* ``ansible-playbook -vvv`` output, Ansible's log file and the module's returned values;
* what the nodes received: the decrypted WS-Man bodies (and the PSRP fragments inside them), and
  the raw TCP stream both ways through a recording relay (so the authentication exchange is
  scanned too — NTLM never sends the password itself; with HTTPS + Basic it travels only inside
  TLS, where the relay sees ciphertext).

clpbackup sends no secure parameters (no SecureString): the password's only use is the
authentication exchange, so nothing the nodes received may hold it, in any of its forms (text,
UTF-16, base64, the ``user:password`` of a Basic header).

:func:`test_the_scanner_finds_a_planted_password` shows the scanner would have seen a leak in each of
those forms and places.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from clpbackup import ClusterBackup, Plan
from clpbackup.cli import main as cli_main
from clpbackup.errors import AuthenticationFailed, ClpBackupError, describe
from clpbackup.plan import ConnectionOverride, PasswordRef
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.simulate_cli import plan_yaml, run_simulate
from clpbackup.transport import open_session
from clpbackup.transport.base import Session
from clpbackup.transport.retry import RetryPolicy
from tests.reliability._tap import Tap

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "clpbackup" / "examples"
PASSWORD = "Qx7-CANARY-pw-5521"  # recognisable: any sighting is a leak
WRONG = "Wr0ng-CANARY-8812"  # a wrong password is a secret as well
SECRETS = {"password": PASSWORD, "wrong password": WRONG}
USER = "EXAMPLE\\backup-admin"


# -- the scanner ----------------------------------------------------------------------------------------


def forms(secret: str) -> list[bytes]:
    """Every form in which a password could show: text, UTF-16, base64, a Basic header's value."""
    out = [secret.encode("utf-8"), secret.encode("utf-16-le"), secret.encode("utf-16-be")]
    out.append(base64.b64encode(secret.encode()))
    for user in (USER, "Administrator", "backup-admin"):
        out.append(base64.b64encode(f"{user}:{secret}".encode()))
    return out


class Scanner:
    """Counts what it scans and keeps every place a secret showed up."""

    def __init__(self) -> None:
        self.leaks: list[str] = []
        self.surfaces: Counter[str] = Counter()
        self.scanned = 0

    def text(self, surface: str, value: str | bytes) -> None:
        data = value if isinstance(value, bytes) else value.encode("utf-8", "backslashreplace")
        self.surfaces[surface] += 1
        self.scanned += len(data)
        for name, secret in SECRETS.items():
            for form in forms(secret):
                at = data.find(form)
                if at >= 0:
                    around = data[max(0, at - 60) : at + len(form) + 20]
                    self.leaks.append(f"{surface}: the {name} ({form[:12]!r}…) in …{around!r}…")

    def error(self, surface: str, exc: BaseException) -> None:
        self.text(surface, "".join(traceback.format_exception(exc)))  # with __cause__/__context__
        self.text(surface, repr(exc) + str(exc) + repr(exc.args) + json.dumps(describe(exc)))
        # an error that crosses a process boundary (multiprocessing, a notebook kernel) is pickled
        self.text(surface, pickle.dumps(exc).decode("utf-8", errors="replace"))
        for attr in ("stdout", "stderr", "hint", "message", "argv", "first_lines"):
            if hasattr(exc, attr):
                self.text(surface, repr(getattr(exc, attr)))

    def value(self, surface: str, value: Any) -> None:
        """A result, an error, or any object an operator may print or serialise."""
        if isinstance(value, BaseException):
            self.error(surface, value)
            return
        self.text(surface, repr(value) + "\n" + str(value))
        for view in ("_repr_html_", "_repr_markdown_"):
            if hasattr(value, view):
                self.text(f"{surface} ({view})", getattr(value, view)())
        if hasattr(value, "to_json"):
            self.text(f"{surface} (json)", json.dumps(value.to_json(), default=str))
        if hasattr(value, "items"):
            for key, item in list(value.items()):
                if isinstance(item, BaseException) or hasattr(item, "to_json"):
                    self.value(f"{surface}[{key}]", item)


_PLAIN_RECORD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


class Records(logging.Handler):
    """Every log record, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lock_ = threading.Lock()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock_:
            self.records.append(record)

    def scan(self, scanner: Scanner) -> None:
        with self.lock_:
            records = list(self.records)
        for r in records:
            extra = {k: v for k, v in r.__dict__.items() if k not in _PLAIN_RECORD}
            scanner.text(f"log {r.name}", self.format(r) + repr(r.args) + repr(extra))


@pytest.fixture
def debug_logging() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    names = ["clpbackup", "pypsrp", "psrpcore", "spnego", "requests", "urllib3", "requests_credssp"]
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.DEBUG)  # an operator turning everything up
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


# -- the simulated cluster, recorded --------------------------------------------------------------------


class Recorded:
    """A started simulated cluster whose nodes keep every request, behind recording relays."""

    def __init__(self, plan: Plan, *, ssl: bool = False) -> None:
        self.sim = SimulatedCluster.from_plan(plan, ssl=ssl).start()
        for node in self.sim.nodes:
            node.server.record = True
        self.taps = {n.name: Tap(n.server.port).start() for n in self.sim.nodes}
        self.plan = self.sim.plan.with_endpoints({k: {"port": t.port} for k, t in self.taps.items()})

    def stop(self) -> None:
        for tap in self.taps.values():
            tap.stop()
        self.sim.stop()

    def scan(self, scanner: Scanner, label: str) -> None:
        """What the nodes received and hold: decrypted bodies, the wire, files, tasks, programs."""
        for node in self.sim.nodes:
            where = f"{label} {node.name}"
            for body in node.server.received:
                scanner.text(f"{where} received (decrypted)", body)
                for blob in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", body):
                    try:
                        fragment = base64.b64decode(blob + "=" * (-len(blob) % 4))
                        scanner.text(f"{where} received (PSRP fragment)", fragment)
                    except ValueError:
                        continue
            scanner.text(f"{where} wire (to the node)", bytes(self.taps[node.name].upstream))
            scanner.text(f"{where} wire (from the node)", bytes(self.taps[node.name].downstream))
            model = node.model
            with model.lock:
                for volume in model.fs.volumes.values():
                    for key, entry in volume.walk_files():
                        scanner.text(f"{where} file {volume.full(key)}", entry.data)
                for task in model.scheduler.tasks.values():
                    scanner.text(f"{where} task", repr(task))
                for run in model.history:
                    scanner.text(f"{where} program run", repr(run))
        for store in self.sim.shares.shares.values():
            for key, entry in store.walk_files():
                scanner.text(f"{label} share file {store.full(key)}", entry.data)


def with_password(plan: Plan, secret: str) -> Plan:
    """The plan with a password callback (the Python API's way) returning ``secret``."""
    ref = PasswordRef(callback=lambda _node: SecretStr(secret))
    conn = plan.connection.model_copy(update={"password": ref})
    nodes = [
        n.model_copy(update={"connection": n.connection.model_copy(update={"password": ref})})
        if n.connection is not None and n.connection.password is not None
        else n
        for n in plan.nodes
    ]
    return plan.model_copy(update={"connection": conn, "nodes": nodes})


def with_connection(plan: Plan, **settings: Any) -> Plan:
    nodes = [
        n.model_copy(
            update={"connection": (n.connection or ConnectionOverride()).model_copy(update=settings)}
        )
        for n in plan.nodes
    ]
    return plan.model_copy(update={"nodes": nodes})


# -- the three drivers: the library, the CLI, Ansible ------------------------------------------------------


def drive_library(
    rec: Recorded, scanner: Scanner, *, switchover: str, local: str, volume: str, short: bool = False
) -> None:
    """Every operation of ClusterBackup, then faults, then wrong passwords (``short``: one fault
    position per kind)."""
    sim = rec.sim
    with ClusterBackup(rec.plan, poll_initial=0.01, poll_max=0.05) as cb:
        scanner.value("ClusterBackup", cb)
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("deploy --check", lambda: cb.deploy(check=True)),
            ("deploy", cb.deploy),
            ("deploy again", cb.deploy),
            ("status", cb.status),
            ("failover_backup --check", lambda: cb.failover_backup(check=True)),
            ("failover_backup", cb.failover_backup),
            ("run_backup local", lambda: cb.run_backup(local, timeout=60)),
            ("run_backup switchover", lambda: cb.run_backup(switchover, timeout=60)),
            ("failover", sim.failover),
            ("advance", lambda: sim.advance(hours=3)),
            ("status after failover", cb.status),
            ("restore_source", lambda: cb.restore_source(volume)),
            ("failback", sim.failback),
            ("failback_backup --check", lambda: cb.failback_backup(check=True)),
            ("failback_backup", cb.failback_backup),
            ("advance again", lambda: sim.advance(hours=24)),
            ("status after a day", cb.status),
        ]
        for label, step in steps:
            try:
                value = step()
            except ClpBackupError as exc:
                value = exc
            scanner.value(f"library {label}", value)
        for session in list(cb._sessions.values()):
            scanner.value("session", session)
        for art in cb.artifacts.values():
            scanner.value("rendered", art)
            for f in art.files:
                scanner.text(f"rendered file {f.path}", f.content)
    # faults at several points of a deploy and a status (retries, broken pools, re-opens); the
    # retry policy is the default one with short waits
    fast = RetryPolicy(initial=0.01, max_wait=0.02, jitter=0.0)

    def fast_sessions(plan: Plan, node: str) -> Session:
        return open_session(plan, node, retry=fast)

    for fault in ("drop", "http500", "auth", "down", "slow"):
        for at in (2,) if short else (1, 4):
            node = sim.nodes[at % 2]
            node.inject(fault, at=at, seconds=0.2)
            with ClusterBackup(rec.plan, poll_initial=0.01, session_factory=fast_sessions) as cb:
                for label, op in (("status", cb.status), ("deploy", cb.deploy)):
                    try:
                        value = op()
                    except ClpBackupError as exc:
                        value = exc
                    scanner.value(f"fault {fault}@{at} {label}", value)
            node.clear_faults()
    # wrong passwords: from the environment variable, and from a callback
    for source, plan in (
        ("env", rec.plan),
        ("callback", with_password(rec.plan, WRONG)),
    ):
        env_before = os.environ.get("CLPBACKUP_PASSWORD")
        if source == "env":
            os.environ["CLPBACKUP_PASSWORD"] = WRONG
        try:
            with ClusterBackup(plan, poll_initial=0.01) as cb:
                for label, op in (
                    ("status", cb.status),
                    ("deploy", cb.deploy),
                    ("failover_backup", cb.failover_backup),
                    ("run_backup", lambda cb=cb: cb.run_backup(local, timeout=5)),  # type: ignore[misc]
                ):
                    try:
                        value = op()
                    except ClpBackupError as exc:
                        value = exc
                    scanner.value(f"wrong password ({source}) {label}", value)
                    failed = value.values() if hasattr(value, "values") else [value]
                    assert any(isinstance(v, AuthenticationFailed) for v in failed), value
        finally:
            if env_before is not None:
                os.environ["CLPBACKUP_PASSWORD"] = env_before
    scanner.value("plan", rec.plan)
    scanner.text("plan (json)", rec.plan.model_dump_json())
    scanner.text("plan (yaml)", plan_yaml(rec.plan))
    scanner.value("simulated cluster", sim)


def drive_cli(
    rec: Recorded, scanner: Scanner, capsys: pytest.CaptureFixture[str], tmp: Path, *, local: str, volume: str
) -> None:
    """Every subcommand, in process (so DEBUG logging sees it), text and JSON, right and wrong."""
    path = tmp / "plan.yaml"
    path.write_text(plan_yaml(rec.plan), encoding="utf-8")
    p = str(path)
    commands = [
        ["validate", p], ["validate", p, "--format", "json"],
        ["render", p], ["render", p, "--format", "json"],
        ["deploy", p, "--check"], ["deploy", p], ["deploy", p, "--format", "json"], ["status", p],
        ["status", p, "--format", "json"], ["failover-backup", p, "--check"], ["failover-backup", p],
        ["failback-backup", p, "--check"], ["failback-backup", p, "--format", "json"],
        ["run", p, "--job", local, "--timeout", "60"], ["restore-source", p, volume],
        ["restore-source", p, volume, "--format", "json"],
    ]
    log_file = tmp / "clpbackup.log"
    for argv in commands:
        # -vv and --log-file: every record the CLI can log (DEBUG) goes to stderr and to the file
        rc = cli_main([*argv, "-vv", "--log-file", str(log_file)])
        out = capsys.readouterr()
        scanner.text(f"cli {' '.join(argv[:1] + argv[2:])} (rc {rc})", out.out + out.err)
    logged = log_file.read_text(encoding="utf-8")
    assert "node-a: deploy started" in logged and "done in" in logged  # the file really holds the log
    scanner.text("cli --log-file", logged)
    os.environ["CLPBACKUP_PASSWORD"] = WRONG
    try:
        for argv in (["status", p], ["deploy", p, "--format", "json"], ["run", p, "--job", local]):
            rc = cli_main([*argv, "-vv", "--log-file", str(log_file)])
            out = capsys.readouterr()
            assert rc != 0 and ("AuthenticationFailed" in out.out + out.err), out
            scanner.text(f"cli wrong password {argv[0]}", out.out + out.err)
    finally:
        os.environ["CLPBACKUP_PASSWORD"] = PASSWORD
    scanner.text("cli --log-file (wrong password too)", log_file.read_text(encoding="utf-8"))
    rc = cli_main(["demo"])
    out = capsys.readouterr()
    assert rc == 0, out.out
    scanner.text("cli demo", out.out + out.err)
    lines: list[str] = []
    stop = threading.Event()
    stop.set()  # serve, print, write the plan, stop at once
    run_simulate(EXAMPLES / "ws2012-wsb.yaml", tmp / "simulated.yaml", out=lines.append, stop=stop)
    scanner.text("cli simulate", "\n".join(lines) + (tmp / "simulated.yaml").read_text(encoding="utf-8"))


def drive_ansible(rec: Recorded, scanner: Scanner, tmp: Path) -> None:
    """ansible-playbook -vvv with the module: check mode, deploy, status, failover, wrong password."""
    from clpbackup.ansible import module_dir

    playbook_cmd = Path(sys.executable).with_name("ansible-playbook")
    binary = str(playbook_cmd) if playbook_cmd.exists() else shutil.which("ansible-playbook")
    assert binary, "ansible-playbook is not installed (pip install -e '.[test]')"
    plan = tmp / "ansible-plan.yaml"
    plan.write_text(plan_yaml(rec.plan), encoding="utf-8")
    (tmp / "inventory.ini").write_text(
        f"[clusters]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n",
        encoding="utf-8",
    )
    (tmp / "vault.yml").write_text(f"clp_wrong: {json.dumps(WRONG)}\nclp_right: {json.dumps(PASSWORD)}\n")
    results = tmp / "ansible-results.json"

    def task(register: str, **options: Any) -> dict[str, Any]:
        extra = {k: options.pop(k) for k in ("ignore_errors", "check_mode") if k in options}
        module = {"plan": str(plan), **options}
        return {"name": register, "clpbackup_cluster": module, "register": register, **extra}

    tasks = [
        task("check", state="deployed", check_mode=True),  # password from the environment
        task("deploy", state="deployed"),
        task("status", state="status", password="{{ clp_right }}"),  # the no_log option
        task("wrong", state="status", password="{{ clp_wrong }}", ignore_errors=True),
    ]
    names = [t["register"] for t in tasks]
    saved = "{{ {" + ", ".join(f"'{r}': {r} | default(None)" for r in names) + "} | to_json }}"
    book = [{
        "name": "secrets", "hosts": "clusters", "gather_facts": False, "vars_files": [str(tmp / "vault.yml")],
        "tasks": [{"block": tasks, "always": [
            {"name": "save", "ansible.builtin.copy": {"content": saved, "dest": str(results)},
             "check_mode": False}
        ]}],
    }]
    (tmp / "playbook.yml").write_text(yaml.safe_dump(book, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({
        "CLPBACKUP_PASSWORD": PASSWORD,
        "ANSIBLE_LIBRARY": module_dir(),
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_REMOTE_TMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_LOG_PATH": str(tmp / "ansible.log"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "LC_ALL": "C.UTF-8",
    })
    run = subprocess.run(
        [binary, "-vvv", "--diff", "-i", str(tmp / "inventory.ini"), str(tmp / "playbook.yml")],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["deploy"]["ok"] and data["status"]["ok"]
    assert data["wrong"]["failed"] and data["wrong"]["failed_nodes"]
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout  # -vvv did print the module arguments
    scanner.text("ansible -vvv output", run.stdout + run.stderr)
    scanner.text("ansible log file", (tmp / "ansible.log").read_bytes())
    scanner.text("ansible results", results.read_bytes())


# -- the test ----------------------------------------------------------------------------------------------


def test_the_password_appears_nowhere(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    debug_logging: Records,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    plan = Plan.from_file(EXAMPLES / "ws2012-wsb.yaml")
    scanner = Scanner()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = Recorded(plan)
        try:
            drive_library(rec, scanner, switchover="shared-daily", local="local-daily", volume="E:")
            drive_cli(rec, scanner, capsys, tmp_path, local="local-daily", volume="E:")
            drive_ansible(rec, scanner, tmp_path)
            # the WinRS (cmd shell) transport on the same nodes
            with ClusterBackup(with_connection(rec.plan, transport="winrs")) as cb:
                scanner.value("winrs status", cb.status())
        finally:
            rec.stop()
        rec.scan(scanner, "2012 HTTP+NTLM")
        # Windows Server 2003 (NTBackup, rsm, AT): the operations once more, faults and wrong
        # passwords included
        old = Recorded(Plan.from_file(EXAMPLES / "ws2003-ntbackup.yaml"))
        try:
            drive_library(
                old, scanner, switchover="shared-daily", local="local-daily", volume="E:", short=True
            )
        finally:
            old.stop()
        old.scan(scanner, "2003 HTTP+NTLM")
        # HTTPS with Basic: the password is in the authentication header, inside TLS only
        tls = Recorded(plan, ssl=True)
        try:
            basic = with_connection(tls.plan, auth="basic")
            with ClusterBackup(basic) as cb:
                scanner.value("https basic deploy", cb.deploy())
                scanner.value("https basic status", cb.status())
            with ClusterBackup(with_password(basic, WRONG)) as cb:
                wrong = cb.status()
                scanner.value("https basic wrong password", wrong)
                assert all(isinstance(v, AuthenticationFailed) for v in wrong.values()), wrong
        finally:
            tls.stop()
        tls.scan(scanner, "2012 HTTPS+Basic")
    for w in caught:
        scanner.text(f"warning {w.category.__name__}", str(w.message))
    debug_logging.scan(scanner)
    out = capsys.readouterr()
    scanner.text("stdout/stderr", out.out + out.err)

    assert scanner.surfaces["log clpbackup.transport"] > 0, "DEBUG logging recorded nothing"
    assert any(k.endswith("received (decrypted)") for k in scanner.surfaces), "the nodes recorded nothing"
    print(
        f"\nsecrets: {sum(scanner.surfaces.values())} texts on {len(scanner.surfaces)} surfaces, "
        f"{scanner.scanned} bytes scanned, {len(debug_logging.records)} log records, "
        f"leaks found: {len(scanner.leaks)}"
    )
    assert scanner.leaks == [], "\n".join(scanner.leaks[:20])


def test_the_scanner_finds_a_planted_password(debug_logging: Records) -> None:
    """Each form and each place the test above looks at would show a leak."""
    scanner = Scanner()
    logging.getLogger("clpbackup.transport").debug("connecting with %s", PASSWORD)
    debug_logging.scan(scanner)
    assert len(scanner.leaks) == 1 and "log clpbackup.transport" in scanner.leaks[0]
    for planted in (
        PASSWORD,
        WRONG.encode("utf-16-le"),
        b"Authorization: Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()),
        base64.b64encode(PASSWORD.encode()),
    ):
        before = len(scanner.leaks)
        scanner.text("planted", planted)
        assert len(scanner.leaks) > before, planted
    try:
        try:
            raise ValueError(f"inner {PASSWORD}")
        except ValueError as inner:
            raise AuthenticationFailed("outer") from inner
    except AuthenticationFailed as exc:
        before = len(scanner.leaks)
        scanner.error("chained error", exc)  # the cause's text is part of the traceback
        assert len(scanner.leaks) > before
