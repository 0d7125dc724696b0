"""``SimulatedCluster``: two simulated Windows nodes, each behind a real WinRM endpoint on 127.0.0.1.

Built from a plan (:meth:`SimulatedCluster.from_plan`): the nodes get the plan's OS, code page and
credentials; the switchover volumes start attached to the home node; every other drive letter the
jobs name (``D:\\data``, a target ``G:``) is a local volume on both nodes; the nodes share one clock
and one network-share store. :attr:`SimulatedCluster.plan` is the plan pointed at the local
endpoints, ready for ``ClusterBackup``.

Time moves only when a test says so (:meth:`SimulatedCluster.advance`), which runs every task and AT
job that falls due, on both nodes, in time order. :meth:`SimulatedCluster.failover` and
:meth:`~SimulatedCluster.failback` move the switchover volumes and run the CLUSTERPRO start script on
the node that takes the group, with the ``CLP_*`` variables the cluster would set.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import TracebackType
from typing import TYPE_CHECKING, Any

from clpbackup.errors import NotSimulated, PlanError
from clpbackup.plan import Plan
from clpbackup.testing.model.clock import SimClock
from clpbackup.testing.model.fs import FsError, ShareStore, Volume
from clpbackup.testing.model.node import ClusterInfo, SimulatedWindows, advance_nodes
from clpbackup.testing.model.ntbackup import state as ntbackup_state
from clpbackup.testing.model.rsm import add_library
from clpbackup.testing.model.taskscheduler import Task
from clpbackup.testing.server import WinRMServer

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.kdc import TestRealm

__all__ = ["ScriptRun", "SimulatedCluster", "SimulatedNode"]


class NodeFiles:
    """Read (and, for test setup, write) access to a simulated node's files."""

    def __init__(self, model: SimulatedWindows) -> None:
        self._m = model

    def exists(self, path: str) -> bool:
        with self._m.lock:
            return self._m.fs.exists(path)

    def read_bytes(self, path: str) -> bytes:
        with self._m.lock:
            return self._m.fs.read_bytes(path)

    def read_text(self, path: str, encoding: str | None = None) -> str:
        """Text of a file (UTF-16 when it starts with a BOM, else ``encoding`` or the OEM code page)."""
        return self._m.read_text(path, encoding)

    def listdir(self, path: str) -> list[str]:
        with self._m.lock:
            return self._m.fs.listdir(path)

    def write(self, path: str, data: bytes | str, *, encoding: str | None = None) -> None:
        """Put a file on the node (folders created); text in the OEM code page unless ``encoding``."""
        self._m.write_file(path, data, encoding=encoding)


class SimulatedNode:
    """One node of a :class:`SimulatedCluster`: its model and its WinRM server."""

    def __init__(self, model: SimulatedWindows, server: WinRMServer) -> None:
        self.model = model
        self.server = server
        self.files = NodeFiles(model)

    @property
    def name(self) -> str:
        return self.model.name

    def has_volume(self, letter: str) -> bool:
        """True when the drive letter is attached to this node now."""
        return self.model.has_volume(letter)

    @property
    def requests(self) -> int:
        """WS-Man requests the node's endpoint has answered."""
        return self.server.requests

    def inject(self, fault: str, at: int | None = None, *, seconds: float = 5.0) -> None:
        """Inject a fault into the endpoint (``drop``, ``http500``, ``slow``, ``auth``, ``down``)."""
        self.server.inject(fault, at=at, seconds=seconds)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    @property
    def tasks(self) -> dict[str, Task]:
        """Task Scheduler tasks by name (AT jobs excluded; see :attr:`at_jobs`)."""
        with self.model.lock:
            return {t.name: t for t in self.model.scheduler.tasks.values() if t.at_id is None}

    @property
    def at_jobs(self) -> list[Task]:
        """AT jobs in id order."""
        with self.model.lock:
            return sorted(
                (t for t in self.model.scheduler.tasks.values() if t.at_id is not None),
                key=lambda t: t.at_id or 0,
            )

    @property
    def not_simulated(self) -> list[str]:
        return list(self.model.not_simulated)

    def __repr__(self) -> str:
        return f"SimulatedNode({self.name!r}, os={self.model.os!r}, url={self.server.url!r})"


@dataclass(frozen=True)
class ScriptRun:
    """A run of the CLUSTERPRO start script by :meth:`SimulatedCluster.failover`/``failback``."""

    node: str
    event: str
    path: str
    rc: int | None  # None: the script does not exist on that node


def _letters(plan: Plan) -> set[str]:
    """Drive letters the jobs use that are not switchover volumes (local volumes on both nodes)."""
    found: set[str] = set()
    for job in plan.jobs.values():
        paths = list(job.include) + list(job.exclude)
        if job.target:
            paths.append(job.target)
        if job.ntbackup and job.ntbackup.file:
            paths.append(job.ntbackup.file)
        for p in paths:
            if len(p) >= 2 and p[1] == ":" and p[0].isalpha():
                found.add(p[0].upper() + ":")
    found.discard("C:")
    return found - set(plan.cluster.switchover_volumes)


class SimulatedCluster:
    """Two simulated nodes behind WinRM endpoints, built from a plan (see the module docstring)."""

    def __init__(
        self,
        plan: Plan,
        nodes: dict[str, SimulatedNode],
        *,
        clock: SimClock,
        shares: ShareStore,
        volumes: dict[str, Volume],
        ssl: bool,
        credentials: dict[str, tuple[str, str]],
        owner_box: dict[str, str] | None = None,
        kdc: TestRealm | None = None,
        spn_hosts: dict[str, str] | None = None,
    ) -> None:
        self.source_plan = plan
        self._nodes = nodes
        self.clock = clock
        self.shares = shares
        self.switchover_volumes = volumes
        self.ssl = ssl
        self._credentials = credentials
        self._owner_box = owner_box if owner_box is not None else {"name": plan.home_node.name}
        self.script_runs: list[ScriptRun] = []
        self.kdc = kdc
        #: Each node's name in the test realm (its ``host/`` and ``HTTP/`` service principals).
        self.spn_hosts = dict(spn_hosts or {})
        self._started = False

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def from_plan(
        cls,
        plan: Plan,
        *,
        ssl: bool = False,
        latency: float = 0.0,
        protocol_versions: dict[str, str] | None = None,
        wsb_installed: bool | dict[str, bool] = True,
        schedule_running: bool | dict[str, bool] = True,
        clpstat: bool = True,
        clplogcmd: bool | dict[str, bool] = True,
        start: datetime | None = None,
        tz: str | int | tzinfo | None = None,
        seed_data: bool = True,
        kdc: TestRealm | None = None,
        trusted_for_delegation: bool | dict[str, bool] = False,
        tls12_enabled: bool | dict[str, bool] = False,
        negotiate_enabled: bool = True,
        backup_duration: float = 0.0,
        recovery_duration: float = 0.0,
    ) -> SimulatedCluster:
        """Build (not start) the two nodes and their endpoints from ``plan``.

        ``protocol_versions`` overrides the PSRP version per node (``{"node-a": "2.3"}``);
        ``wsb_installed`` / ``schedule_running`` may be given per node to test OS-3 and SCH-4;
        ``clplogcmd`` (per node too) says whether CLUSTERPRO's ``clplogcmd`` is there (ALERT-1).
        The password is resolved as the plan says (``PlanError`` when its variable is unset).
        With ``seed_data`` (the default) every folder a job includes exists with a sample file on
        the node that holds it, and the plan's CLUSTERPRO start script (``cluster.start_script``)
        exists on both nodes with NEC's sample lines — as on a real cluster, where the data and the
        script resource are there before clpbackup comes.

        With ``kdc`` (a started :class:`~clpbackup.testing.kdc.TestRealm`) the nodes are members of
        its realm: each gets its service principals ``host/<name>`` and ``HTTP/<name>`` (``<name>``:
        the node's ``connection.spn_host``, else ``<node>.<realm domain>``) and a keytab, and accepts
        Kerberos as well as NTLM; ``trusted_for_delegation`` (per node or for both) is Active
        Directory's "Trust this computer for delegation" (``+ok_as_delegate``). Every file server a
        job's target names gets its ``cifs/`` principal, and a session reaches the shares only when
        the client's delegated ticket obtains a ``cifs/`` ticket for each of them from the KDC (a
        deleted ``cifs/`` principal refuses the second hop). The user's principal and ticket are the
        test's to make (``kdc.add_user``, ``kdc.kinit``); without a password in the plan the
        nodes' NTLM account gets a random one (Kerberos only, in effect).

        With ``ssl=True`` each node's HTTPS listener speaks the TLS versions of its OS (2003, 2008
        and 2008 R2: TLS 1.0 only); ``tls12_enabled`` (per node or for both) is TLS 1.2 enabled in
        the node's SCHANNEL registry keys (2008 with KB4019276, 2008 R2; refused for 2003).
        ``negotiate_enabled=False`` is the WinRM service's ``Auth/Negotiate`` turned off: members of
        a realm then offer the ``Kerberos`` scheme alone.

        ``backup_duration`` / ``recovery_duration`` are the model seconds a scheduled ``wbadmin
        start backup`` / ``start recovery`` takes (0: it ends when it starts); above 0 the task
        shows Running until :meth:`advance` has moved the clock past its end.
        """
        clock = SimClock(start)
        shares = ShareStore()
        lock = threading.RLock()
        letters = _letters(plan)
        volumes = {v: Volume(v) for v in plan.cluster.switchover_volumes}
        owner = {"name": plan.home_node.name}
        info = ClusterInfo(
            plan.cluster.name,
            plan.cluster.failover_group,
            [n.name for n in plan.nodes],
            owner=lambda: owner["name"],
        )
        nodes: dict[str, SimulatedNode] = {}
        credentials: dict[str, tuple[str, str]] = {}
        spn_hosts: dict[str, str] = {}
        second_hop: tuple[str, ...] = ()
        if kdc is not None:
            fqdns = [s if "." in s else f"{s}.{kdc.domain}" for s in sorted(_file_servers(plan))]
            for fileserver in fqdns:
                kdc.add_service("cifs", fileserver)
            second_hop = tuple(f"cifs@{s}" for s in fqdns)
        for n in plan.nodes:
            conn = plan.connection_for(n)
            keytab: str | None = None
            if kdc is not None:
                spn_host = conn.spn_host or f"{n.name.lower()}.{kdc.domain}"
                trusted = (
                    trusted_for_delegation.get(n.name, False)
                    if isinstance(trusted_for_delegation, dict)
                    else trusted_for_delegation
                )
                kdc.add_host(spn_host, ok_as_delegate=trusted)
                keytab = str(kdc.keytab(spn_host))
                spn_hosts[n.name] = spn_host
            secret = conn.resolve_password(n.name) if conn.password is not None or kdc is None else None
            if secret is None and kdc is not None:
                from pydantic import SecretStr

                secret = SecretStr(secrets.token_urlsafe(18))  # Kerberos only: no NTLM password known
            if secret is None:
                raise PlanError(
                    "the simulator needs the password the nodes expect; the plan gives none",
                    field="connection.password",
                    hint="set password: {env: VARIABLE} and export the variable",
                )
            username = conn.username or "Administrator"
            credentials[n.name] = (username, secret.get_secret_value())

            def pick(value: bool | dict[str, bool], node: str = n.name) -> bool:
                return value.get(node, True) if isinstance(value, dict) else value

            model = SimulatedWindows(
                n.name,
                n.os,
                codepage=conn.codepage,
                clock=clock,
                tz=tz,
                shares=shares,
                lock=lock,
                username=username,
                protocol_version=(protocol_versions or {}).get(n.name),
                wsb_installed=pick(wsb_installed),
                schedule_running=pick(schedule_running),
                schedule_start_mode="Auto" if pick(schedule_running) else "Manual",
                clpstat=clpstat and plan.cluster.clpstat,
                clplogcmd=pick(clplogcmd),
                cluster=info,
                volumes=[Volume(v) for v in sorted(letters)],
                switchover_volumes=plan.cluster.switchover_volumes,
                # CredSSP delegates the user's credentials to the node (a second hop works); the
                # endpoint still speaks NTLM, but its sessions behave as CredSSP's would.
                winrm_delegation=conn.auth == "credssp",
                tls12_enabled=(
                    tls12_enabled.get(n.name, False) if isinstance(tls12_enabled, dict) else tls12_enabled
                ),
                backup_duration=backup_duration,
                recovery_duration=recovery_duration,
            )
            if n.home:
                for vol in volumes.values():
                    model.fs.attach(vol)
            if seed_data:
                _seed(model, plan, switchover=n.home)
            if n.os == "2003":
                st = ntbackup_state(model)
                for job in plan.jobs.values():
                    nt = job.ntbackup
                    if nt is None:
                        continue
                    if nt.media_pool:
                        st.add_pool(nt.media_pool)
                    if nt.tape and st.tape(nt.tape) is None:
                        from clpbackup.testing.model.ntbackup import Tape

                        st.tapes.append(Tape(nt.tape, "Backup"))
                    if nt.library:
                        add_library(model, nt.library)
            server = WinRMServer(
                model,
                username=username,
                password=credentials[n.name][1],
                ssl=ssl,
                server_assigned_ids=model.server_assigned_ids,
                keytab=keytab,
                second_hop=second_hop,
                negotiate=negotiate_enabled,
            )
            server.latency = latency
            nodes[n.name] = SimulatedNode(model, server)
        return cls(
            plan,
            nodes,
            clock=clock,
            shares=shares,
            volumes=volumes,
            ssl=ssl,
            credentials=credentials,
            owner_box=owner,
            kdc=kdc,
            spn_hosts=spn_hosts,
        )

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> SimulatedCluster:
        """Start both endpoints (ephemeral ports on 127.0.0.1)."""
        try:
            for node in self._nodes.values():
                node.server.start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        """Stop both endpoints."""
        for node in self._nodes.values():
            node.server.stop()
        self._started = False

    def __enter__(self) -> SimulatedCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- access --------------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[SimulatedNode]:
        return list(self._nodes.values())

    def node(self, name: str) -> SimulatedNode:
        """The node called ``name`` (case-insensitive)."""
        for key, node in self._nodes.items():
            if key.lower() == name.lower():
                return node
        raise KeyError(f"no simulated node {name!r}; the nodes are {', '.join(self._nodes)}")

    def endpoint(self, node: str) -> tuple[str, int]:
        """``(host, port)`` of the node's WinRM endpoint (after :meth:`start`)."""
        server = self.node(node).server
        return server.host, server.port

    @property
    def credentials(self) -> tuple[str, str]:
        """``(username, password)`` the endpoints accept (the home node's, when they differ)."""
        return self._credentials[self.source_plan.home_node.name]

    @property
    def plan(self) -> Plan:
        """The plan pointed at the local endpoints (host 127.0.0.1, their ports, ssl and CA file)."""
        if not self._started:
            raise RuntimeError("start the SimulatedCluster first (with ... as sim: or sim.start())")
        endpoints: dict[str, dict[str, Any]] = {}
        for name, node in self._nodes.items():
            ep: dict[str, Any] = {"host": node.server.host, "port": node.server.port, "ssl": self.ssl}
            auth = self.source_plan.connection_for(name).auth
            if self.kdc is not None and auth in ("kerberos", "negotiate"):
                # A member of the test realm: Kerberos as in a domain, the service name from the
                # node's name in the realm (the endpoint itself is 127.0.0.1).
                ep["spn_host"] = self.spn_hosts[name]
            elif auth not in _SIMULATED_AUTH[self.ssl]:
                # The endpoint speaks NTLM (and Basic over TLS) only: a Kerberos, CredSSP or
                # certificate plan is pointed at Negotiate, which falls back to NTLM with the
                # same user name and password.
                ep["auth"] = "negotiate"
            if self.ssl and node.server.ca_cert_path:
                ep["cert_validation"] = node.server.ca_cert_path
            endpoints[name] = ep
        return self.source_plan.with_endpoints(endpoints)

    @property
    def owner(self) -> str:
        """The node that has the switchover volumes (runs the failover group)."""
        return self._owner_box["name"]

    @property
    def other(self) -> str:
        """The node that does not run the group."""
        return next(n for n in self._nodes if n != self.owner)

    # -- events --------------------------------------------------------------------------------------------
    def _move_group(self, to: str, event: str) -> ScriptRun:
        target = self.node(to)
        with target.model.lock:
            for letter, vol in self.switchover_volumes.items():
                for node in self._nodes.values():
                    if node.model.fs.volume(letter) is vol:
                        node.model.fs.detach(letter)
                target.model.fs.attach(vol)
            self._owner_box["name"] = target.name
        return self._start_script(target, event)

    def _start_script(self, node: SimulatedNode, event: str) -> ScriptRun:
        path = self.source_plan.cluster.start_script
        if not path or not node.model.fs.is_file(path):
            run = ScriptRun(node.name, event, path or "", None)
            self.script_runs.append(run)
            return run
        folder = path.rpartition("\\")[0] or "C:\\"
        env = {
            "CLP_EVENT": event,
            "CLP_SERVER": "HOME" if node.name == self.source_plan.home_node.name else "OTHER",
            "CLP_DISK": "SUCCESS",
            "CLP_GROUPNAME": self.source_plan.cluster.failover_group,
            "CLP_RESOURCENAME": "script",
            "CLP_SCRIPT_PATH": folder,
        }
        model = node.model
        rc = model.toplevel(lambda: model.run_scheduled(f'"{path}"', user="SYSTEM", env=env))
        run = ScriptRun(node.name, event, path, int(rc))
        self.script_runs.append(run)
        return run

    def failover(self) -> ScriptRun:
        """Fail the group over to the other node: the volumes move, its start script runs with
        ``CLP_EVENT=FAILOVER``."""
        return self._move_group(self.other, "FAILOVER")

    def failback(self, event: str = "START") -> ScriptRun:
        """Move the group back to the home node (``CLP_EVENT=START``, or ``RECOVER``)."""
        if event not in ("START", "RECOVER"):
            raise ValueError("failback runs the start script with CLP_EVENT START or RECOVER")
        return self._move_group(self.source_plan.home_node.name, event)

    def advance(self, hours: float = 0, minutes: float = 0, seconds: float = 0) -> list[str]:
        """Move the shared clock; run every due task and AT job on both nodes in time order.
        Returns ``node:task`` per run."""
        return advance_nodes(
            [n.model for n in self._nodes.values()], hours=hours, minutes=minutes, seconds=seconds
        )

    @property
    def not_simulated(self) -> list[str]:
        """Everything either node was asked for that the model does not cover."""
        return [f"{n.name}: {m}" for n in self._nodes.values() for m in n.model.not_simulated]

    def assert_all_simulated(self) -> None:
        """Raise :class:`~clpbackup.errors.NotSimulated` when a node recorded something unmodelled."""
        if self.not_simulated:
            raise NotSimulated(
                "; ".join(self.not_simulated),
                hint="extend clpbackup.testing.model or change what clpbackup sends",
            )

    def __repr__(self) -> str:
        name = self.source_plan.cluster.name
        return f"SimulatedCluster({name!r}, owner={self.owner!r}, nodes={list(self._nodes)})"


_SIMULATED_AUTH = {False: ("negotiate", "ntlm"), True: ("negotiate", "ntlm", "basic")}

# The shape of NEC's sample start script (EXPRESSCLUSTER/Windows-Server-Backup, wsbackup_script/start.bat,
# template 9.0.3-1): CLP_EVENT branches by GOTO, and an error branch that exits before the normal one.
# clpbackup's FO-1 block is spliced into it; a block placed before the first EXIT would sit in the
# error branch, which a FAILOVER run never enters.
_NEC_START_SCRIPT = (
    "rem ***************************************\r\n"
    "rem *              start.bat              *\r\n"
    "rem ***************************************\r\n"
    'cd "%CLP_SCRIPT_PATH%"\r\n'
    'IF "%CLP_EVENT%" == "START" GOTO NORMAL\r\n'
    'IF "%CLP_EVENT%" == "FAILOVER" GOTO NORMAL\r\n'
    'IF "%CLP_EVENT%" == "RECOVER" GOTO NORMAL\r\n'
    "rem Cluster Server is not started\r\n"
    "GOTO ERROR\r\n"
    ":ERROR\r\n"
    "EXIT /B 1\r\n"
    ":NORMAL\r\n"
    'IF "%CLP_DISK%" == "FAILURE" GOTO ERROR\r\n'
    "rem the group's applications start here\r\n"
    "EXIT /B 0\r\n"
)


def _file_servers(plan: Plan) -> set[str]:
    """The servers of the shares the jobs' targets name (``\\\\nas01\\backup`` → ``nas01``)."""
    out: set[str] = set()
    for job in plan.jobs.values():
        target = job.target or ""
        if target.startswith("\\\\"):
            server = target[2:].split("\\", 1)[0]
            if server and "{" not in server:
                out.add(server.lower())
    return out


def _seed(model: SimulatedWindows, plan: Plan, *, switchover: bool) -> None:
    """Sample data under every included folder, and the start script (see ``from_plan``)."""
    for job in plan.jobs.values():
        for item in job.include:
            letter = item[:2].upper()
            if len(item.rstrip("\\")) <= 2 or item.lower() == "systemstate":
                continue
            if letter in plan.cluster.switchover_volumes and not switchover:
                continue
            if not model.fs.has_volume(letter):
                continue
            folder = item.rstrip("\\")
            try:
                if job.ntbackup is not None and not item.endswith("\\"):
                    # a .bks line without the trailing backslash names a file
                    model.fs.write_bytes(item, b"clpbackup simulated data\r\n", parents=True)
                    continue
                model.fs.mkdir(folder)
                model.fs.write_bytes(folder + "\\sample.dat", b"clpbackup simulated data\r\n", parents=True)
            except FsError:
                continue  # a name Windows cannot have (C:\a|b): nothing there, as on a real node
        bkf = job.ntbackup.file if job.ntbackup else None
        if bkf and "\\" in bkf[2:] and model.fs.has_volume(bkf[:2]):
            # the folder an NTBackup .bkf file goes to exists, as an operator would have made it
            try:
                model.fs.mkdir(bkf.rsplit("\\", 1)[0])
            except FsError:
                pass
    for vol in plan.cluster.switchover_volumes:
        if switchover and model.fs.has_volume(vol):
            model.fs.write_bytes(vol + "\\data\\shared.dat", b"switchover data\r\n", parents=True)
    script = plan.cluster.start_script
    if script and model.fs.has_volume(script[:2]):
        try:
            model.fs.write_bytes(script, _NEC_START_SCRIPT.encode("ascii"), parents=True)
        except FsError:
            pass  # not a path a file can have: the node has no start script (deploy says FO-1)
