"""The documentation tells the truth: links, samples that run, the plan reference, the examples.

What is checked
===============

(a) Every page of ``docs/`` is linked from ``docs/index.md`` and from ``README.md``, and every
    relative link in the docs and the README leads to a file (and heading) that exists.
(b) The samples run, page by page, in document order, like a notebook.

    **Shell sessions** (the format for new samples: nothing hidden). A ```` ```console ```` line

        $ clpbackup simulate examples/plans/<file>.yaml --write-plan plan.yaml

    starts a shell session that lasts to the end of the page. From there the harness runs exactly
    the lines shown, as a reader in a fresh clone would, and nothing else:

    * it stops the page's hidden simulator (if the page had one before) and moves to a fresh folder
      holding a copy of ``examples/`` (what a clone has there), with ``CLPBACKUP_PASSWORD`` unset;
    * that ``simulate`` line is started as a real subprocess (``python -m clpbackup simulate …``,
      the same arguments) that keeps serving until the page ends — the reader runs it in a shell of
      its own; the lines shown under it are what it prints up to ``Serving; press Ctrl+C to stop.``;
    * every later ``$ clpbackup …`` line (``sim …`` included) and ``$ python examples/<x>.py …`` line
      runs as a subprocess in that folder; the lines under it are its stdout and stderr together,
      as a terminal shows them. ``$ export NAME=value`` sets a variable for every later line and
      for the python blocks (a shell session must show the ``export CLPBACKUP_PASSWORD=…`` it needs);
      any other ``$`` line (``cd``, ``cat``, pipes) is refused: keep sessions to these lines;
    * ```` ```python ```` blocks still run (in process, in that folder, sharing one namespace): a
      reader runs them in a ``python`` started there;
    * ``<!-- doctest: … -->`` directives are refused inside a session: change the world with a
      visible ``$ clpbackup sim advance 24h|failover|failback|down NODE|up NODE`` line instead.

    **What is normalised**: nothing but what ``…`` stands for. Shown output is compared line by
    line (trailing spaces ignored); a line ``...`` stands for any number of lines and ``…`` inside a
    line for any text: write ``…`` where a value honestly varies from run to run — the simulator's
    ports (``http://127.0.0.1:…/wsman``), wall-clock times and durations, temporary paths. The
    simulator's model time is not normalised: its clock starts at 2024-01-15 00:00 UTC and moves only
    with ``clpbackup sim advance``, so the times it shows are the same on every run. The exit code
    must be 1 when the shown output says ``INVALID``, ``NEEDS ATTENTION``, ``refused``, ``FAILED`` or
    ``no source``, else 0. :func:`test_shell_session_format` pins these rules.

    Pages written before shell sessions (and the parts of a page before its session) run the older
    way, below: a hidden simulated cluster behind ``plan.yaml``.

    * ```` ```python ```` blocks are executed. The blocks of one page share one namespace.
      A page runs in a temporary folder holding ``plan.yaml`` — the page's plan pointed at a
      **simulated cluster** (:mod:`clpbackup.testing`, two WinRM endpoints on 127.0.0.1) — and
      a copy of ``examples/plans/``. The plan's password variable is set to a made-up value the
      simulated nodes accept. So a sample is written as an operator would write it
      (``Plan.from_file("plan.yaml")``, ``ClusterBackup(plan).deploy()``) and really runs.
    * The page's plan is ``examples/plans/ws2012-wsb.yaml`` unless the page says
      ``<!-- doctest-plan: examples/plans/<file>.yaml -->``; the README's is its own plan (its
      first ```` ```yaml ```` block with a ``cluster:`` key).
    * ``<!-- doctest: <python> -->`` is hidden code run at that point in the same namespace, with
      ``sim`` (the :class:`~clpbackup.testing.SimulatedCluster`) in scope: it makes the world
      change between two samples the way it does on a real cluster (``sim.advance(hours=24)``,
      ``sim.failover()``). Readers never see it.
    * A ```` ```text output ```` block right after a python block is what that block prints.
    * ```` ```console ```` blocks: ``$ clpbackup …`` (or ``$ python -m clpbackup …``) lines are run
      (in process, ``clpbackup.cli.main``) and ``$ python examples/deploy.py|failover.py …`` lines
      through the script's ``main``; the lines after a command are its output. ```` ```sh ````
      blocks: the lines that start with ``clpbackup`` are run (no output shown). ``demo`` and
      ``simulate`` lines are not run (tests/e2e/test_demo.py and the Ansible tests run them).
      Operations (deploy, status, …) must name ``plan.yaml``, the simulated plan.
    * Shown output is compared line by line (trailing spaces ignored): a line ``...`` stands for
      any number of lines, ``…`` inside a line for any text. The exit code must be 1 when the shown
      output says ``INVALID``, ``NEEDS ATTENTION``, ``refused`` or ``no source``, else 0.
    * ```` ```python no-run ```` blocks are not run; each one is listed in :data:`NO_RUN` with the
      reason. ```` ```yaml ```` blocks must parse; a whole plan in one must load without an
      error finding.
(c) ``docs/plan-reference.md`` documents every field of ``Plan.json_schema()`` (nested models
    included) with its allowed values, default, bounds and whether it is required, and names no
    field the models do not have.
(d) ``examples/deploy.py`` and ``examples/failover.py`` run against the simulator.

The troubleshooting page quotes clpbackup's messages; :func:`test_troubleshooting_quotes_real_messages`
provokes each one (through the simulator or the error mapping) and finds it on the page.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from clpbackup import ClusterBackup, Plan
from clpbackup.errors import ClpBackupError, PlanError
from clpbackup.results import ClusterResult, StatusResult
from clpbackup.testing import SimulatedCluster
from clpbackup.testing.simulate_cli import control_server, plan_yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
PLANS = EXAMPLES / "plans"
DEFAULT_PLAN = PLANS / "ws2012-wsb.yaml"
PASSWORD = "Doc-Sampl3s-only!"  # made up; the simulated nodes accept whatever the variable holds

#: python blocks that are deliberately not run: (page, text of their first line) → why.
NO_RUN: dict[tuple[str, str], str] = {
    ("design.md", "class NodeBackend(Protocol):"): "an interface listing (Protocol and dataclass "
    "signatures), not code to execute",
    ("testing.md", "SimulatedCluster.from_plan(plan, *, ssl=False, latency=0.0, protocol_versions=None,"): (
        "an API listing with signatures (`*`, keyword defaults) and one-line descriptions"
    ),
}

OFFLINE_COMMANDS = {"validate", "render", "schema", "ansible-path"}
CLUSTER_COMMANDS = {"deploy", "status", "failover-backup", "failback-backup", "run", "restore-source"}
NOT_RUN_COMMANDS = {"demo", "simulate"}
SIM_COMMANDS = {"sim"}  # `clpbackup sim …` drives the page's simulated cluster (its control endpoint)
EXAMPLE_SCRIPTS = {"examples/deploy.py", "examples/failover.py"}
FAILURE_WORDS = ("INVALID", "NEEDS ATTENTION", "refused", "FAILED", "no source")
SERVING = "Serving; press Ctrl+C to stop."  # the last line `clpbackup simulate` prints before serving
SESSION_TIMEOUT = 180  # seconds for one command of a shell session (a backup waited for included)


# -- reading Markdown ----------------------------------------------------------------------------


@dataclass
class Block:
    """A fenced block, or a hidden ``<!-- doctest: … -->`` directive (``lang == "doctest"``)."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    tags: tuple[str, ...]
    text: str

    @property
    def where(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"

    @property
    def first_line(self) -> str:
        return next((x.strip() for x in self.text.splitlines() if x.strip()), "")


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"<!--\s*doctest:(?P<code>.*?)-->", re.S)
# Directives stand on lines of their own (a directive quoted in a code span is not one).
_PLAN_DIRECTIVE = re.compile(r"^<!--\s*doctest-plan:\s*(?P<path>\S+)\s*-->\s*$", re.M)


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks and doctest directives of a Markdown page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m:
            indent, fence, info = m.group("indent"), m.group("fence"), m.group("info").strip()
            body: list[str] = []
            j = i + 1
            while j < len(lines):
                stripped = lines[j].strip()
                if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                    break
                body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
                j += 1
            words = info.split()
            out.append(
                Block(page, i + 1, words[0] if words else "", tuple(words[1:]), "\n".join(body) + "\n")
            )
            i = j + 1
            continue
        if re.match(r"^\s*<!--\s*doctest:", lines[i]):
            j = i
            while "-->" not in lines[j]:
                j += 1
            m2 = _DIRECTIVE.search("\n".join(lines[i : j + 1]))
            assert m2, f"{page}:{i + 1}: a doctest directive must look like <!-- doctest: code -->"
            code = m2.group("code")
            first, _, rest = code.partition("\n")
            import textwrap

            text = first.strip() + "\n" + textwrap.dedent(rest) if rest else first.strip() + "\n"
            out.append(Block(page, i + 1, "doctest", (), text))
            i = j + 1
            continue
        i += 1
    return out


def doc_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def all_pages() -> list[Path]:
    return [*doc_pages(), README]


def _ids(pages: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in pages]


# -- (a) links -----------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def _links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    # links inside code are not links
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [m.group("target") for m in _LINK.finditer(text)]


def _resolve(page: Path, target: str) -> tuple[Path | None, str]:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
        return None, ""
    path, _, anchor = target.partition("#")
    return ((page.parent / path).resolve() if path else page.resolve()), anchor


def linked_pages(page: Path) -> set[Path]:
    out = set()
    for target in _links(page):
        path, _ = _resolve(page, target)
        if path is not None and path.suffix == ".md":
            out.add(path)
    return out


def github_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of a page."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_code or not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_every_docs_page_is_linked_from_the_index() -> None:
    index = DOCS / "index.md"
    assert index.exists(), "docs/index.md is the table of contents of docs/"
    missing = [p.name for p in doc_pages() if p != index and p.resolve() not in linked_pages(index)]
    assert not missing, f"docs/index.md does not link: {missing}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    missing = [p.name for p in doc_pages() if p.resolve() not in linked_pages(README)]
    assert not missing, f"README.md does not link: {missing}"


@pytest.mark.parametrize("page", all_pages(), ids=_ids(all_pages()))
def test_relative_links_lead_somewhere(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, anchor = _resolve(page, target)
        if path is None:
            continue
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in github_anchors(path):
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


# -- (b) samples ---------------------------------------------------------------------------------


def match_output(expected: str, actual: str) -> str | None:
    """``None`` when ``actual`` shows what ``expected`` shows, else what is missing.

    ``expected`` lines must appear in ``actual`` in order, consecutively within a run of lines; a
    line ``...`` separates runs (any number of lines in between); ``…`` in a line matches any text.
    """
    act = [x.rstrip() for x in actual.splitlines()]
    chunks: list[list[str]] = [[]]
    for line in expected.splitlines():
        if line.strip() in ("...", "…"):
            chunks.append([])
        else:
            chunks[-1].append(line.rstrip())
    pos = 0
    for chunk in chunks:
        if not chunk:
            continue
        pats = [re.compile(".*".join(re.escape(part) for part in line.split("…")) + r"\Z") for line in chunk]
        found = None
        for start in range(pos, len(act) - len(chunk) + 1):
            if all(p.match(act[start + k]) for k, p in enumerate(pats)):
                found = start
                break
        if found is None:
            return "not found (in order) in the output:\n  " + "\n  ".join(chunk)
        pos = found + len(chunk)
    return None


def _page_plan(page: Path, blocks: list[Block]) -> str:
    """The YAML of the plan a page's samples work on."""
    text = page.read_text(encoding="utf-8")
    m = _PLAN_DIRECTIVE.search(text)
    if m:
        return (ROOT / m.group("path")).read_text(encoding="utf-8")
    if page == README:
        for b in blocks:
            if b.lang == "yaml" and re.search(r"^cluster:", b.text, re.M):
                return b.text
    if page.name in PAGE_PLANS:
        return PAGE_PLANS[page.name]()
    return DEFAULT_PLAN.read_text(encoding="utf-8")


def _rules_md_plan() -> str:
    """rules.md shows `clpbackup validate` refusing a plan: a local job backing up to E: (WSB-2),
    with standby_at on that local job (an SCH-2 warning)."""
    data = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    data["jobs"]["local-daily"]["target"] = "E:"
    data["jobs"]["local-daily"]["standby_at"] = "05:00"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


PAGE_PLANS: dict[str, Callable[[], str]] = {"rules.md": _rules_md_plan}


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a module (the examples are scripts, not a package)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"clpbackup_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _session_start(line: str) -> list[str] | None:
    """The argv of a ``clpbackup simulate …`` line (it starts a shell session), else ``None``."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    if words[:1] == ["$"]:
        words = words[1:]
    if words[:3] in (["python", "-m", "clpbackup"], ["python3", "-m", "clpbackup"]):
        words = ["clpbackup", *words[3:]]
    return words[1:] if words[:2] == ["clpbackup", "simulate"] else None


def starts_session(b: Block) -> bool:
    return b.lang == "console" and any(
        line.startswith("$ ") and _session_start(line[2:]) is not None for line in b.text.splitlines()
    )


_EXPORT = re.compile(r"^export\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\S*)\s*(?:#.*)?$")


@dataclass
class ShellSession:
    """A shell session of a page: a real ``clpbackup simulate`` subprocess and the commands after it."""

    folder: Path
    env: dict[str, str]
    simulator: subprocess.Popen[str] | None = None
    sim_output: list[str] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @classmethod
    def fresh(cls, parent: Path) -> ShellSession:
        """A fresh folder holding what a clone holds under ``examples/``; no password variable."""
        folder = parent / "clone"
        shutil.copytree(EXAMPLES, folder / "examples", ignore=shutil.ignore_patterns("__pycache__"))
        env = {k: v for k, v in os.environ.items() if k != "CLPBACKUP_PASSWORD"}
        env.pop("CLPBACKUP_NOTEBOOK_PLAN", None)
        return cls(folder, env)

    def argv(self, words: list[str]) -> list[str]:
        if words[:1] == ["clpbackup"]:
            return [sys.executable, "-m", "clpbackup", *words[1:]]
        assert words[:1] in (["python"], ["python3"])
        return [sys.executable, *words[1:]]

    def start_simulator(self, words: list[str]) -> str:
        """Start ``clpbackup simulate …``; what it printed up to :data:`SERVING`."""
        assert self.simulator is None, "one `clpbackup simulate` per page"
        self.simulator = subprocess.Popen(
            self.argv(words), cwd=self.folder, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        out = self.simulator.stdout
        assert out is not None

        def pump() -> None:
            for line in out:
                self._lines.put(line)
            self._lines.put(None)

        threading.Thread(target=pump, name="doc-simulator-output", daemon=True).start()
        shown: list[str] = []
        deadline = time.monotonic() + 60
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("`clpbackup simulate` did not start serving in 60 s:\n" + "".join(shown))
            if line is None:
                pytest.fail(f"`clpbackup simulate` ended (exit {self.simulator.wait()}):\n" + "".join(shown))
            shown.append(line)
            if line.strip() == SERVING:
                return "".join(shown)

    def run(self, words: list[str]) -> tuple[int, str]:
        try:
            done = subprocess.run(
                self.argv(words), cwd=self.folder, env=self.env, text=True, timeout=SESSION_TIMEOUT,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{shlex.join(words)} ran longer than {SESSION_TIMEOUT} s:\n{exc.output}")
        return done.returncode, done.stdout

    def close(self) -> str:
        """Stop the simulator as Ctrl+C would (SIGTERM); everything it printed after serving."""
        if self.simulator is None:
            return ""
        if self.simulator.poll() is None:
            self.simulator.send_signal(signal.SIGTERM)
            try:
                self.simulator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.simulator.kill()
                self.simulator.wait()
        rest: list[str] = []
        with contextlib.suppress(queue.Empty):
            while (line := self._lines.get(timeout=5)) is not None:
                rest.append(line)
        return "".join(rest)


@dataclass
class PageRun:
    """Runs one page's samples in order (see the module docstring)."""

    page: Path
    workdir: Path
    blocks: list[Block]
    sim: SimulatedCluster | None = None
    namespace: dict[str, Any] = field(default_factory=dict)
    last_output: str | None = None
    ran: int = 0
    setenv: Callable[[str, str], None] = os.environ.__setitem__
    delenv: Callable[[str], None] = lambda name: os.environ.pop(name, None) and None
    session: ShellSession | None = None
    after_session: str = ""  # what the session's simulator printed after serving (read at the end)

    def hidden_blocks(self) -> list[Block]:
        """The blocks before the page's shell session (all of them when it has none)."""
        out: list[Block] = []
        for b in self.blocks:
            if starts_session(b):
                break
            out.append(b)
        return out

    def needs_cluster(self) -> bool:
        for b in self.hidden_blocks():
            if b.lang == "doctest" or (b.lang == "python" and "no-run" not in b.tags):
                return True
            if b.lang == "console" and any(
                (c := _command(line))
                and c[0] in CLUSTER_COMMANDS | SIM_COMMANDS | {"examples/deploy.py", "examples/failover.py"}
                for line in b.text.splitlines()
            ):
                return True
        return False

    def run(self) -> None:
        text = _page_plan(self.page, self.blocks)
        shutil.copytree(PLANS, self.workdir / "examples" / "plans")
        plan = Plan.from_yaml(text) if self.needs_cluster() else None
        with contextlib.ExitStack() as stack:
            if plan is not None:
                self.sim = stack.enter_context(SimulatedCluster.from_plan(plan))
                text = plan_yaml(self.sim.plan)
                # As `clpbackup simulate --write-plan plan.yaml` does: `clpbackup sim …` lines work.
                control = control_server(self.sim, self.workdir, threading.Lock(), lambda _line: None)
                stack.callback(control.start().stop)
            (self.workdir / "plan.yaml").write_text(text, encoding="utf-8")
            self.namespace = {"__name__": "__doc_sample__", "sim": self.sim}
            previous: Block | None = None
            try:
                for b in self.blocks:
                    if starts_session(b) and self.session is None:
                        stack.close()  # the hidden simulator goes: nothing hidden from here on
                        self.session = ShellSession.fresh(self.workdir)
                        self.delenv("CLPBACKUP_PASSWORD")
                        os.chdir(self.session.folder)
                        self.namespace = {"__name__": "__doc_sample__"}
                    self.run_block(b, previous)
                    previous = b
            finally:
                self.close_session()

    def close_session(self) -> None:
        if self.session is not None and self.session.simulator is not None and not self.after_session:
            self.after_session = self.session.close() or "\n"

    def run_block(self, b: Block, previous: Block | None) -> None:
        if b.lang == "python" and "no-run" in b.tags:
            key = (b.page.name, b.first_line)
            assert key in NO_RUN, (
                f"{b.where}: a python no-run block must be listed in NO_RUN with the reason it cannot "
                f"run (key {key!r}); prefer a sample that runs"
            )
        elif b.lang == "doctest" and self.session is not None:
            pytest.fail(
                f"{b.where}: a hidden doctest directive inside a shell session; show a "
                "`$ clpbackup sim …` line instead"
            )
        elif b.lang in ("python", "doctest"):
            self.last_output = self.exec_python(b)
            self.ran += 1
        elif b.lang == "text" and "output" in b.tags:
            assert previous is not None and previous.lang == "python" and self.last_output is not None, (
                f"{b.where}: a ```text output block must follow a python block"
            )
            problem = match_output(b.text, self.last_output)
            assert problem is None, (
                f"{b.where}: the output shown is not what the sample prints: {problem}"
                f"\n--- it printed:\n{self.last_output}"
            )
        elif b.lang == "console":
            self.run_console(b)
        elif b.lang == "sh":
            for line in b.text.splitlines():
                if line.strip().startswith("clpbackup "):
                    if self.session is not None:
                        self.run_session_line(b, line.strip(), expected="")
                    else:
                        self.run_command(b, line.strip(), expected="")
        if b.lang not in ("python", "doctest", "text"):
            self.last_output = None

    def exec_python(self, b: Block) -> str:
        code = compile(b.text, b.where, "exec")
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(code, self.namespace)
        except Exception:
            pytest.fail(
                f"{b.where}: the sample raised\n{traceback.format_exc()}\n--- it printed:\n{out.getvalue()}"
            )
        return out.getvalue()

    def run_console(self, b: Block) -> None:
        lines = b.text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith("$ "):
                i += 1
                continue
            j = i + 1
            while j < len(lines) and not lines[j].startswith("$ "):
                j += 1
            expected = "\n".join(lines[i + 1 : j])
            if self.session is not None:
                self.run_session_line(b, line[2:].strip(), expected=expected)
            else:
                self.run_command(b, line[2:].strip(), expected=expected)
            i = j

    def run_session_line(self, b: Block, line: str, *, expected: str) -> None:
        """One ``$`` line of a shell session, run as the reader would run it (module docstring)."""
        session = self.session
        assert session is not None
        m = _EXPORT.match(line)
        if m:
            assert not expected.strip(), f"{b.where}: {line!r} prints nothing"
            session.env[m.group("name")] = m.group("value")
            self.setenv(m.group("name"), m.group("value"))
            return
        if re.search(r"(\||>|<|&&|;|\$\(|`)", line.split(" #")[0]):
            pytest.fail(f"{b.where}: {line!r}: keep shell-session lines free of pipes and redirections")
        words = shlex.split(line, comments=True)
        if words[:3] in (["python", "-m", "clpbackup"], ["python3", "-m", "clpbackup"]):
            words = ["clpbackup", *words[3:]]
        script = len(words) >= 2 and words[0] in ("python", "python3") and words[1] in EXAMPLE_SCRIPTS
        if not (words[:1] == ["clpbackup"] or script):
            pytest.fail(
                f"{b.where}: {line!r}: a shell session runs `clpbackup …`, `python examples/….py …` "
                "and `export NAME=value` lines only"
            )
        if words[1:2] in (["deploy"], ["status"], ["failover-backup"], ["failback-backup"], ["run"],
                          ["restore-source"]) or script:
            assert "plan.yaml" in words, f"{b.where}: {line!r} must work on plan.yaml (the simulated cluster)"
        if _session_start(line) is not None:
            text = session.start_simulator(words)
            assert "--write-plan" in words and "plan.yaml" in words, (
                f"{b.where}: {line!r}: the session's simulator writes plan.yaml (--write-plan plan.yaml)"
            )
            rc = 0
        else:
            rc, text = session.run(words)
        self.ran += 1
        want = 1 if any(w in expected for w in FAILURE_WORDS) else 0
        assert rc == want, f"{b.where}: {line!r} exited {rc}, the page implies {want}\n--- output:\n{text}"
        problem = match_output(expected, text)
        assert problem is None, f"{b.where}: {line!r}: {problem}\n--- it printed:\n{text}"

    def run_command(self, b: Block, line: str, *, expected: str) -> None:
        cmd = _command(line)
        if cmd is None or cmd[0] in NOT_RUN_COMMANDS:
            return
        if re.search(r"\s(\||>|>>|<|&&|;)\s|\$\(", line.split("#")[0]):
            pytest.fail(
                f"{b.where}: cannot run {line!r}: keep doc command lines free of pipes and redirections"
            )
        name, argv, runner = cmd
        if name in CLUSTER_COMMANDS | EXAMPLE_SCRIPTS:
            assert "plan.yaml" in argv, f"{b.where}: {line!r} must work on plan.yaml (the simulated cluster)"
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                rc = runner(argv)
            except SystemExit as exc:  # argparse in an example script
                rc = exc.code if isinstance(exc.code, int) else 2
        text = out.getvalue()
        self.ran += 1
        want = 1 if any(w in expected for w in FAILURE_WORDS) else 0
        assert rc == want, f"{b.where}: {line!r} exited {rc}, the page implies {want}\n--- output:\n{text}"
        problem = match_output(expected, text)
        assert problem is None, f"{b.where}: {line!r}: {problem}\n--- it printed:\n{text}"


def _command(line: str) -> tuple[str, list[str], Callable[[list[str]], int]] | None:
    """``(what, argv, runner)`` for a runnable doc command line, ``None`` for anything else."""
    try:
        words = shlex.split(line, comments=True, posix=True)
    except ValueError:
        return None
    if words[:1] == ["$"]:
        words = words[1:]
    if words[:3] in (["python", "-m", "clpbackup"], ["python3", "-m", "clpbackup"]):
        words = ["clpbackup", *words[3:]]
    if len(words) >= 2 and words[0] == "clpbackup":
        from clpbackup.cli import main

        return words[1], words[1:], main
    if len(words) >= 2 and words[0] in ("python", "python3") and words[1] in EXAMPLE_SCRIPTS:
        module = load_example(Path(words[1]).stem)
        return words[1], words[2:], module.main
    return None


def _sample_pages() -> list[Path]:
    return [
        p
        for p in all_pages()
        if any(b.lang in ("python", "console", "sh", "doctest") for b in read_blocks(p))
    ]


@pytest.fixture
def page_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    monkeypatch.delenv("CLPBACKUP_NOTEBOOK_PLAN", raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("page", _sample_pages(), ids=_ids(_sample_pages()))
def test_samples_run(page: Path, page_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = PageRun(
        page, page_env, read_blocks(page), setenv=monkeypatch.setenv,
        delenv=lambda name: monkeypatch.delenv(name, raising=False),
    )
    run.run()
    if run.sim is not None:
        assert not run.sim.not_simulated, f"{page.name}: the samples asked for {run.sim.not_simulated}"
    assert "Asked for but not simulated" not in run.after_session, (
        f"{page.name}: the session's simulator was asked for what it does not model:\n{run.after_session}"
    )


def test_shell_session_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shell-session rules of the module docstring, on a small page against a real simulator."""
    monkeypatch.delenv("CLPBACKUP_PASSWORD", raising=False)
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "p.md"
    page.write_text(
        "# P\n\n```console\n$ export CLPBACKUP_PASSWORD=Sessi0n-only!\n"
        "$ clpbackup simulate examples/plans/ws2012-wsb.yaml --write-plan plan.yaml\n"
        "Simulated cluster 'prod-db' (group 'failover1', owner node-a), model time 2024-01-15 00:00 UTC\n"
        "...\n" + SERVING + "\n```\n\n```console\n$ clpbackup sim advance 2h\n"
        "model time 2024-01-15 02:00 UTC\n"
        "$ clpbackup sim down node-b\nnode-b: …\n"
        "$ clpbackup status plan.yaml --node node-b\nstatus: NEEDS ATTENTION\n  node-b: FAILED …\n...\n"
        "$ clpbackup sim status\ncluster prod-db: model time 2024-01-15 03:00 UTC, …\n```\n",
        encoding="utf-8",
    )
    run = PageRun(
        page, tmp_path, read_blocks(page), setenv=monkeypatch.setenv,
        delenv=lambda name: monkeypatch.delenv(name, raising=False),
    )
    with pytest.raises(AssertionError) as wrong:  # the last line shows 03:00; it is 02:00
        run.run()
    assert "'clpbackup sim status': not found" in str(wrong.value) and "02:00 UTC" in str(wrong.value)
    assert run.ran == 5  # export is not counted; simulate, advance, down, status, sim status ran
    assert os.environ["CLPBACKUP_PASSWORD"] == "Sessi0n-only!"  # the export reached the python blocks
    assert run.session is not None and run.session.simulator is not None
    assert run.session.simulator.returncode == 0  # stopped as Ctrl+C stops it, at the page's end
    assert (tmp_path / "clone" / "examples" / "plans" / "ws2012-wsb.yaml").is_file()  # a fresh clone

    # refused inside a session: hidden directives, pipes, other commands
    session = PageRun(page, tmp_path, [], session=ShellSession(tmp_path, {}))
    b = Block(page, 1, "console", (), "")
    for line in ("clpbackup status plan.yaml | head", "cat plan.yaml", "clpbackup status x.yaml > out"):
        with pytest.raises(pytest.fail.Exception):
            session.run_session_line(b, line, expected="")
    with pytest.raises(pytest.fail.Exception, match="hidden doctest directive inside a shell session"):
        session.run_block(Block(page, 2, "doctest", (), "sim.failover()\n"), None)
    assert _session_start("clpbackup simulate a.yaml --write-plan plan.yaml # x") == [
        "simulate", "a.yaml", "--write-plan", "plan.yaml"
    ]
    assert _session_start("clpbackup sim status") is None


def test_no_run_blocks_are_listed_with_a_reason() -> None:
    found = {
        (b.page.name, b.first_line)
        for p in all_pages()
        for b in read_blocks(p)
        if b.lang == "python" and "no-run" in b.tags
    }
    assert found == set(NO_RUN), (
        f"python no-run blocks {sorted(found)} differ from the justified list {sorted(NO_RUN)}"
    )


@pytest.mark.parametrize("page", all_pages(), ids=_ids(all_pages()))
def test_yaml_blocks_parse_and_whole_plans_are_valid(page: Path) -> None:
    for b in read_blocks(page):
        if b.lang != "yaml":
            continue
        data = yaml.safe_load(b.text)
        if isinstance(data, dict) and {"cluster", "nodes", "jobs"} <= set(data):
            plan = Plan.from_yaml(b.text)
            errors = [f for f in plan.findings() if f.severity == "error"]
            assert not errors, f"{b.where}: the plan breaks a rule: {errors}"


def test_match_output_semantics() -> None:
    actual = "a\nb 12 c\nd\ne\n"
    assert match_output("a\nb … c", actual) is None
    assert match_output("a\n...\ne", actual) is None
    assert match_output("a\nd", actual) is not None  # not consecutive without ...
    assert match_output("e\n...\na", actual) is not None  # order matters
    assert match_output("b 12 x", actual) is not None


def test_blocks_are_read_with_their_tags_and_directives(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "# T\n\n```python no-run\nx = 1\n```\n\n<!-- doctest: sim.advance(hours=1) -->\n\n"
        "Write `<!-- doctest: sim.failover() -->` to fail over.\n\n"
        "1. item\n\n   ```yaml\n   a: 1\n   ```\n",
        encoding="utf-8",
    )
    blocks = read_blocks(page)
    assert [(b.lang, b.tags, b.text) for b in blocks] == [
        ("python", ("no-run",), "x = 1\n"),
        ("doctest", (), "sim.advance(hours=1)\n"),
        ("yaml", (), "a: 1\n"),
    ]
    assert _PLAN_DIRECTIVE.search("say `<!-- doctest-plan: x.yaml -->` on a line") is None
    assert _PLAN_DIRECTIVE.search("text\n<!-- doctest-plan: examples/plans/a.yaml -->\n").group("path") == (
        "examples/plans/a.yaml"
    )


# -- (c) the plan reference against the JSON Schema ----------------------------------------------

#: plan-reference.md section → the schema definition it documents (``""``: the top level).
REFERENCE_SECTIONS = {
    "Top level": "",
    "cluster": "Cluster",
    "nodes": "Node",
    "connection": "Connection",
    "password": "PasswordRef",
    "jobs": "Job",
    "ntbackup": "NtBackupOptions",
    "failover_backup": "FailoverBackup",
    "drill": "DrillOptions",
    "drill.weekly": "WeeklyDrill",
}
#: definitions documented by another section (a node's override has the connection's fields).
SAME_AS = {"ConnectionOverride": "Connection"}


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def reference_tables() -> dict[str, dict[str, list[str]]]:
    """plan-reference.md: section → {key: row cells} from the first table of each section."""
    lines = (DOCS / "plan-reference.md").read_text(encoding="utf-8").splitlines()
    out: dict[str, dict[str, list[str]]] = {}
    section: str | None = None
    in_code = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_code = not in_code
        m = re.match(r"^#{2,3}\s+(.*)$", line)
        if m and not in_code:
            section = m.group(1).strip()
        elif section in REFERENCE_SECTIONS and section not in out and line.startswith("|") and not in_code:
            header = _cells(line)
            rows: dict[str, list[str]] = {}
            i += 2  # the header and the |---| line
            while i < len(lines) and lines[i].startswith("|"):
                cells = _cells(lines[i])
                key = re.match(r"^`\{?(\w+)", cells[0])
                assert key, f"plan-reference.md: a row of '{section}' must start with `key`: {lines[i]}"
                rows[key.group(1)] = cells
                i += 1
            out[section] = rows
            out[section + " header"] = {"": header}
            continue
        i += 1
    return out


def _schema() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    schema = Plan.json_schema()
    defs: dict[str, dict[str, Any]] = dict(schema.get("$defs", {}))
    defs[""] = schema
    return schema, defs


def _model_fields(name: str) -> set[str]:
    from clpbackup import plan as plan_module

    model = Plan if name == "" else getattr(plan_module, name)
    return set(model.model_fields)


def _variants(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [prop, *prop.get("anyOf", [])]


def test_plan_reference_documents_every_schema_field_and_no_other() -> None:
    tables = reference_tables()
    _, defs = _schema()
    missing_sections = [s for s in REFERENCE_SECTIONS if s not in tables]
    assert not missing_sections, f"plan-reference.md has no table under {missing_sections}"
    covered = set(REFERENCE_SECTIONS.values()) | set(SAME_AS)
    assert set(defs) <= covered, f"schema definitions without a section: {set(defs) - covered}"
    for name, same in SAME_AS.items():
        assert set(defs[name]["properties"]) == set(defs[same]["properties"]), name
    problems = []
    for section, def_name in REFERENCE_SECTIONS.items():
        documented = set(tables[section])
        in_schema = set(defs[def_name]["properties"])
        exists = _model_fields(def_name)  # Python-only fields (a password callback) exist too
        problems += [f"{section}: `{k}` is in the schema but not documented" for k in in_schema - documented]
        problems += [f"{section}: `{k}` is documented but no such field exists" for k in documented - exists]
    assert not problems, "\n".join(problems)


def _column(section: str, title: str) -> int | None:
    header = reference_tables()[section + " header"][""]
    return header.index(title) if title in header else None


def test_plan_reference_gives_values_defaults_bounds_and_required() -> None:
    tables = reference_tables()
    _, defs = _schema()
    problems = []
    for section, def_name in REFERENCE_SECTIONS.items():
        d = defs[def_name]
        required = set(d.get("required", []))
        default_col = _column(section, "default")
        for key, prop in d["properties"].items():
            row = " | ".join(tables[section][key])
            for v in _variants(prop):
                for value in v.get("enum", []):
                    if f"`{value}`" not in row:
                        problems.append(f"{section}.{key}: the allowed value `{value}` is not named")
                for bound in ("minimum", "maximum"):
                    if bound in v and not re.search(rf"(?<![\d.]){v[bound]}(?![\d.])", row):
                        problems.append(f"{section}.{key}: the {bound} {v[bound]} is not given")
            if default_col is None:
                continue
            cell = tables[section][key][default_col]
            if key in required:
                if "required" not in cell:
                    problems.append(f"{section}.{key}: required, but the default column says {cell!r}")
                continue
            default = prop.get("default")
            if isinstance(default, bool):
                shown = f"`{str(default).lower()}`"
            elif isinstance(default, (int, str)):
                shown = f"`{default}`"
            elif isinstance(default, list) and not default:
                shown = "`[]`"
            else:
                continue
            if shown not in cell:
                problems.append(f"{section}.{key}: the default is {shown}, the page says {cell!r}")
    assert not problems, "\n".join(problems)


# -- the troubleshooting page quotes real messages -----------------------------------------------


def _fast(plan: Plan, node: str) -> Any:
    """A session without retries, so a provoked failure costs no back-off."""
    from clpbackup.transport import open_session
    from clpbackup.transport.retry import RetryPolicy

    return open_session(plan, node, retry=RetryPolicy.none())


def _tight(update: dict[str, Any]) -> Callable[[Plan, str], Any]:
    """Sessions with connection settings below the plan's bounds (a one-second deadline)."""
    from clpbackup.transport.psrp import PsrpSession
    from clpbackup.transport.retry import RetryPolicy

    def make(plan: Plan, name: str) -> Any:
        node = plan.node(name)
        conn = plan.connection_for(node).model_copy(update=update)
        return PsrpSession(node.name, node.host, conn, retry=RetryPolicy.none())

    return make


def _node_error(result: Any, node: str) -> str:
    value = result[node]
    assert isinstance(value, ClpBackupError), f"{node} did not fail: {value!r}"
    return str(value)


def _load(file: str, **changes: Any) -> Plan:
    data = yaml.safe_load((PLANS / file).read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target = data
        for p in parents:
            target = target[p]
        target[last] = value
    return Plan.from_dict(data)


def _findings(plan: Plan) -> list[str]:
    return [str(f) for f in plan.findings() if f.severity != "info"]


def troubleshooting_messages() -> dict[str, list[str]]:
    """Each situation of docs/troubleshooting.md → the messages clpbackup really gives in it."""
    from pypsrp.exceptions import WinRMTransportError, WSManFaultError

    from clpbackup.transport._errors import map_error

    os.environ["CLPBACKUP_PASSWORD"] = PASSWORD
    out: dict[str, list[str]] = {}
    plan = Plan.from_file(DEFAULT_PLAN)
    with SimulatedCluster.from_plan(plan, clpstat=False) as sim:
        local = sim.plan
        port_b = sim.endpoint("node-b")[1]

        def at_b(**conn: Any) -> Plan:
            return local.with_endpoints({"node-b": {"host": "127.0.0.1", "port": port_b, **conn}})

        def cb(p: Plan, **kw: Any) -> ClusterBackup:
            return ClusterBackup(p, session_factory=kw.pop("session_factory", _fast), **kw)

        down = local.with_endpoints({"node-b": {"host": "127.0.0.1", "port": 1}})
        out["refused"] = [_node_error(cb(down).status(), "node-b")]
        out["404"] = [_node_error(cb(at_b(path="wsman-typo")).status(node="node-b"), "node-b")]
        os.environ["CLPBACKUP_PASSWORD"] = "not-the-password"
        out["401"] = [_node_error(cb(local).status(node="node-b"), "node-b")]
        os.environ["CLPBACKUP_PASSWORD"] = PASSWORD
        out["basic"] = [_node_error(cb(at_b(auth="basic")).status(node="node-b"), "node-b")]
        out["https-on-http"] = [_node_error(cb(at_b(ssl=True)).status(node="node-b"), "node-b")]
        old_proxy = os.environ.get("HTTP_PROXY")
        os.environ["HTTP_PROXY"] = "http://127.0.0.1:1"
        try:
            proxied = local.with_endpoints({"node-b": {"host": "node-b.example.com", "no_proxy": False}})
            out["proxy"] = [_node_error(cb(proxied).status(node="node-b"), "node-b")]
        finally:
            if old_proxy is None:
                os.environ.pop("HTTP_PROXY")
            else:
                os.environ["HTTP_PROXY"] = old_proxy
        out["codepage"] = [_node_error(cb(at_b(codepage=932)).status(), "node-b")]
        out["os-1"] = [
            _node_error(
                cb(
                    local.model_copy(
                        update={"nodes": [local.nodes[0], local.nodes[1].model_copy(update={"os": "2008R2"})]}
                    ),
                ).status(node="node-b"),
                "node-b",
            )
        ]
        # owner unknown: node-b cannot be read and clpstat (off here) cannot confirm node-a
        fo = cb(down).failover_backup()
        out["owner"] = [str(p) for p in fo.all_problems() if p.node == "node-a"]
        with pytest.raises(ClpBackupError) as run_err:
            cb(down).run_backup("shared-daily")
        out["owner"].append(str(run_err.value))
        out["owner"].append(repr(cb(down).restore_source("E:")))
        sim.node("node-b").inject("slow", seconds=1.5)
        slow = cb(local, session_factory=_tight({"deadline": 1}))
        out["deadline"] = [_node_error(slow.status(node="node-b"), "node-b")]
        sim.node("node-b").clear_faults()
        sim.node("node-b").inject("slow", seconds=2.0)
        slow = cb(local, session_factory=_tight({"operation_timeout": 1, "read_timeout": 1.5}))
        out["read-timeout"] = [_node_error(slow.status(node="node-b"), "node-b")]
        sim.node("node-b").clear_faults()
    with SimulatedCluster.from_plan(plan, ssl=True) as sim:
        h, port = sim.endpoint("node-b")
        strict = sim.plan.with_endpoints(
            {"node-b": {"host": h, "port": port, "ssl": True, "cert_validation": True}}
        )
        out["tls"] = [
            _node_error(ClusterBackup(strict, session_factory=_fast).status(node="node-b"), "node-b")
        ]
    with SimulatedCluster.from_plan(plan, wsb_installed={"node-b": False}) as sim:
        out["os-3"] = [_node_error(ClusterBackup(sim.plan).deploy(), "node-b")]
    plan8 = Plan.from_file(PLANS / "ws2008r2-wsb.yaml")
    with SimulatedCluster.from_plan(plan8, schedule_running={"erp2": False}) as sim:
        deploy = ClusterBackup(sim.plan).deploy()
        erp2 = ClusterBackup(sim.plan).status()["erp2"]
        assert isinstance(erp2, StatusResult)
        out["sch-4"] = [_node_error(deploy, "erp2"), *[str(p) for p in erp2.problems if p.rule == "SCH-4"]]
    with SimulatedCluster.from_plan(plan) as sim, ClusterBackup(sim.plan, poll_initial=0.01) as c:
        c.deploy()
        sim.advance(hours=24)
        b = c.status()["node-b"]
        assert isinstance(b, StatusResult)
        out["job-3"] = [f"{s.name}: {s.verdict}" for s in b.schedules if "JOB-3" in s.verdict]
        sim.shares.unreachable.add("nas01")
        run = c.run_backup("local-daily", node="node-a")
        assert isinstance(run, ClusterResult)
        out["backup-failed"] = [str(p) for p in run.all_problems()]
        sim.shares.unreachable.clear()
    out["read-le-operation"] = []
    with pytest.raises(PlanError) as plan_err:
        _load("ws2012-wsb.yaml", **{"connection.operation_timeout": 30, "connection.read_timeout": 30})
    out["read-le-operation"].append(str(plan_err.value))
    out["at-2012"] = _findings(_load("ws2012-wsb.yaml", scheduler="at"))[:1]
    out["tr-261"] = _findings(
        # 240 characters: under the MAX_PATH limit of a folder (247), over schtasks' /TR limit once the
        # task's command is built around it
        _load("ws2012-wsb.yaml", scripts_dir="\\".join(["C:", *["backup-scripts-of-clp"] * 10, "x" * 17]))
    )
    out["quote-codepage"] = _findings(
        _load("ws2012-wsb.yaml", **{"jobs.local-daily.include": ["C:\\業務データ"]})
    )

    def fault(code: int, reason: str, phase: str) -> str:
        """The message for a WS-Man fault a real node answers (the simulator does not send these)."""
        return str(
            map_error(WSManFaultError(code, "node-b", reason, None, None, None), node="node-b", phase=phase)
        )

    out["access-denied"] = [fault(5, "Access is denied.", "open")]
    out["413"] = [str(map_error(WinRMTransportError("http", 413, ""), node="node-b", phase="apply"))]
    envelope = (
        "The WinRM client sent a request to the remote WS-Management service and was notified that the "
        "request size exceeded the configured MaxEnvelopeSize quota."
    )
    out["envelope"] = [fault(0x80338111, envelope, "apply")]
    timeout = "The WS-Management service cannot complete the operation within the OperationTimeout."
    out["operation-timeout"] = [fault(0x80338029, timeout, "inspect")]
    # ALERT-1: what a node's batch file writes into its event log (cmd.exe expands %RC%)
    from clpbackup import alerts

    log = "C:\\clpbackup\\logs\\local-daily.log"
    raised = alerts.message(alerts.BACKUP_FAILED, "local-daily", "node-a", log)
    out["alert-1"] = [raised.replace(alerts.RC, "1")]
    del os.environ["CLPBACKUP_PASSWORD"]
    with pytest.raises(PlanError) as env_err:
        plan.connection.resolve_password("node-a")
    out["no-password"] = [str(env_err.value)]
    return out


def _quoted_lines(page: Path) -> list[str]:
    return [
        line for b in read_blocks(page) if b.lang == "text" for line in b.text.splitlines() if line.strip()
    ]


def _quotes(quoted: str, message: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in quoted.split("…"))
    return re.fullmatch(pattern, message, re.S) is not None


@pytest.mark.slow
def test_troubleshooting_quotes_real_messages() -> None:
    page = DOCS / "troubleshooting.md"
    quoted = _quoted_lines(page)
    messages = troubleshooting_messages()
    missing = [
        f"{situation}: {message}"
        for situation, found in messages.items()
        for message in found
        if not any(_quotes(q, message) for q in quoted)
    ]
    assert all(messages.values()), f"a situation gave no message: {[k for k, v in messages.items() if not v]}"
    assert not missing, "troubleshooting.md does not quote these messages as clpbackup gives them:\n" + (
        "\n".join(missing)
    )


def test_quotes_match_only_the_message_they_show() -> None:
    assert _quotes(
        "[node-b] HTTP 404 during … — check connection.path",
        "[node-b] HTTP 404 during open — check connection.path",
    )
    assert not _quotes(
        "[node-b] HTTP 404 during … — check connection.path",
        "[node-a] HTTP 404 during open — check connection.path",
    )
    assert not _quotes("[node-b] HTTP 404", "[node-b] HTTP 404 during open")


def _table_after(page: Path, heading: str) -> dict[str, list[str]]:
    """The first table under ``heading``: first cell (without backticks) → cells."""
    lines = page.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip("#").strip() == heading)
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|-: "):
            cells = _cells(line)
            rows[cells[0]] = cells
    return rows


@pytest.mark.slow
def test_operations_round_trips_are_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLPBACKUP_PASSWORD", PASSWORD)
    plan = Plan.from_file(DEFAULT_PLAN)
    with SimulatedCluster.from_plan(plan) as sim:

        def cost(op: Callable[[ClusterBackup], object]) -> dict[str, int]:
            before = {n.name: n.requests for n in sim.nodes}
            with ClusterBackup(sim.plan, poll_initial=0.01) as cb:
                op(cb)
            return {n.name: n.requests - before[n.name] for n in sim.nodes}

        check = cost(lambda cb: cb.deploy(check=True))
        deploy = cost(lambda cb: cb.deploy())
        again = cost(lambda cb: cb.deploy())
        status = cost(lambda cb: cb.status())
        sim.failover()
        failover = cost(lambda cb: cb.failover_backup())
        failover_again = cost(lambda cb: cb.failover_backup())
        run = cost(lambda cb: cb.run_backup("shared-daily"))
        restore = cost(lambda cb: cb.restore_source("E:"))
        sim.failback()
        failback = cost(lambda cb: cb.failback_backup())
    one = {
        k: v["node-a"]
        for k, v in {
            "check": check,
            "deploy": deploy,
            "again": again,
            "status": status,
            "restore": restore,
        }.items()
    }
    assert all(v["node-a"] == v["node-b"] for v in (check, deploy, again, status, restore))
    assert failover["node-b"] == failback["node-a"] and failover["node-a"] == failback["node-b"]
    expected = {
        "`deploy(check=True)`": f"{one['check']}",
        "`deploy()`": f"{one['deploy']}, or {one['again']} when nothing changes",
        "`status()`": f"{one['status']}",
        "`failover_backup()` / `failback_backup()`": (
            f"{failover['node-b']} on the owner, {failover['node-a']} on the other node; "
            f"{failover_again['node-b']} when the one-shot is already there"
        ),
        "`run_backup(job)`": (
            f"{run['node-b']} on a node that runs it (2 more for each further look while it runs), "
            f"{run['node-a']} on the other"
        ),
        "`restore_source(item)`": f"{one['restore']}",
    }
    table = _table_after(DOCS / "operations.md", "Round trips")
    shown = {k: v[1] for k, v in table.items() if k in expected}
    assert shown == expected


# -- (d) the example scripts against the simulator -----------------------------------------------


@contextlib.contextmanager
def simulated(file: str, tmp: Path, **kwargs: Any) -> Iterator[SimulatedCluster]:
    """A simulated cluster for ``examples/plans/<file>``, its plan written to ``tmp/plan.yaml``."""
    with SimulatedCluster.from_plan(Plan.from_file(PLANS / file), **kwargs) as sim:
        (tmp / "plan.yaml").write_text(plan_yaml(sim.plan), encoding="utf-8")
        yield sim


def run_example(name: str, argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = load_example(name).main(argv)
    return rc, out.getvalue()


def _once_tasks(sim: SimulatedCluster) -> dict[str, Any]:
    return {f"{n.name}:{t}": task for n in sim.nodes for t, task in n.tasks.items() if t.endswith("-once")}


@pytest.mark.slow
def test_deploy_example_checks_asks_deploys_and_is_idempotent(page_env: Path) -> None:
    with simulated("ws2012-wsb.yaml", page_env) as sim:
        rc, out = run_example("deploy", ["plan.yaml"])  # no terminal here, and no --yes
        assert rc == 2 and "re-run with --yes" in out
        assert "would change 6 item(s)" in out and not sim.node("node-a").tasks
        rc, out = run_example("deploy", ["plan.yaml", "--check"])
        assert rc == 0 and not sim.node("node-b").tasks
        rc, out = run_example("deploy", ["plan.yaml", "--yes"])
        assert rc == 0, out
        assert "<deploy: ok, changed>" in out
        for node in sim.nodes:
            assert set(node.tasks) == {"clpbackup-prod-db-local-daily", "clpbackup-prod-db-shared-daily"}
        rc, out = run_example("deploy", ["plan.yaml", "--yes"])
        assert rc == 0 and "both nodes are in place: nothing to deploy" in out
        assert not sim.not_simulated


@pytest.mark.slow
def test_deploy_example_on_2003_with_at(page_env: Path) -> None:
    with simulated("ws2003-ntbackup.yaml", page_env) as sim:
        rc, out = run_example("deploy", ["plan.yaml", "--yes"])
        assert rc == 0, out
        assert all(node.at_jobs for node in sim.nodes)
        assert not sim.not_simulated


def test_deploy_example_refuses_a_plan_that_breaks_a_rule(page_env: Path) -> None:
    (page_env / "plan.yaml").write_text(_rules_md_plan(), encoding="utf-8")
    rc, out = run_example("deploy", ["plan.yaml", "--yes"])
    assert rc == 1
    assert "WSB-2" in out and "nothing was deployed" in out
    (page_env / "bad.yaml").write_text("cluster: {name: x}\n", encoding="utf-8")
    rc, out = run_example("deploy", ["bad.yaml"])
    assert rc == 2 and "cannot read the plan" in out


@pytest.mark.slow
def test_deploy_example_stops_when_a_node_cannot_be_deployed(page_env: Path) -> None:
    with simulated("ws2012-wsb.yaml", page_env, wsb_installed={"node-b": False}) as sim:
        rc, out = run_example("deploy", ["plan.yaml", "--yes"])
        assert rc == 1 and "node-b cannot be deployed to" in out and "OS-3" in out
        assert not sim.node("node-a").tasks  # nothing half-deployed
        rc, out = run_example("deploy", ["plan.yaml", "--yes", "--node", "node-a"])
        assert rc == 0, out
        assert sim.node("node-a").tasks and not sim.node("node-b").tasks


@pytest.mark.slow
def test_failover_example_after_a_failover(page_env: Path) -> None:
    with simulated("ws2012-wsb.yaml", page_env) as sim:
        with ClusterBackup(sim.plan) as cb:
            cb.deploy()
        sim.advance(hours=24)
        rc, out = run_example("failover", ["plan.yaml", "--yes"])  # no failover yet
        assert rc == 0 and "no failover to handle" in out and not _once_tasks(sim)
        sim.failover()
        rc, out = run_example("failover", ["plan.yaml", "--at", "now"])  # would ask; no terminal
        assert rc == 2 and "re-run with --yes" in out and not _once_tasks(sim)
        assert "node-b - " not in out and "node-b: would be started now" in out
        rc, out = run_example("failover", ["plan.yaml", "--at", "now", "--yes", "--poll", "0.01"])
        assert rc == 0, out
        assert "the failover backup finished on node-b" in out
        assert "restore E: from: RestoreSource(E:: node node-b" in out
        once = _once_tasks(sim)
        assert list(once) == ["node-b:clpbackup-prod-db-shared-daily-once"]
        assert once["node-b:clpbackup-prod-db-shared-daily-once"].last_result == 0
        # the plan's own time: scheduled, not waited for
        rc, out = run_example("failover", ["plan.yaml", "--yes"])
        assert rc == 0 and "runs at 06:00 on node-b" in out
        assert not sim.not_simulated


@pytest.mark.slow
def test_failover_example_fails_closed_when_the_owner_is_unknown(page_env: Path) -> None:
    with simulated("ws2012-wsb.yaml", page_env, clpstat=False) as sim:
        with ClusterBackup(sim.plan) as cb:
            cb.deploy()
        sim.failover()
        sim.node("node-a").inject("down")  # the failed node is gone; nothing confirms node-b
        rc, out = run_example("failover", ["plan.yaml", "--yes", "--at", "now"])
        assert rc == 1 and "owner of the switchover partition is unknown" in out
        assert not _once_tasks(sim)


@pytest.mark.slow
def test_failover_example_reports_a_failed_backup(page_env: Path) -> None:
    with simulated("ws2008r2-wsb.yaml", page_env) as sim:
        with ClusterBackup(sim.plan) as cb:
            cb.deploy()
        sim.failover()
        sim.shares.unreachable.add("backup01")
        rc, out = run_example("failover", ["plan.yaml", "--yes", "--poll", "0.01"])  # the plan says now
        assert rc == 1 and "the failover backup failed on erp2" in out


# -- every rule clpbackup names is explained ---------------------------------------------------------

_RULE_ID = re.compile(r"\b(?:OS|JOB|SCH|FO|FB|RS|NT|WSB|SEC|IDEM|CAU)-\d\b")
_LABEL = re.compile(r'(?:Problem\(\s*|rule=|\.add\(\s*)"(?P<label>[A-Z][A-Z0-9]*(?:-\d+)?)"')


def _source_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "clpbackup").rglob("*.py")))


def test_every_rule_id_in_the_code_is_explained_in_rules_md() -> None:
    rules = (DOCS / "rules.md").read_text(encoding="utf-8")
    ids = set(_RULE_ID.findall(_source_text()))
    assert len(ids) > 20  # the scan finds the rules
    assert not sorted(i for i in ids if i not in rules), "rules.md does not explain these rule IDs"


def test_every_problem_label_is_explained() -> None:
    """Labels that are not rules of the guide (QUOTE, CODEPAGE, BACKUP …) are explained somewhere."""
    labels = {m.group("label") for m in _LABEL.finditer(_source_text())} - set(
        _RULE_ID.findall(_source_text())
    )
    assert {"CODEPAGE", "BACKUP", "QUOTE"} <= labels  # the scan finds them
    text = "\n".join(
        (DOCS / name).read_text(encoding="utf-8")
        for name in ("rules.md", "operations.md", "troubleshooting.md")
    )
    assert not sorted(label for label in labels if label not in text)
