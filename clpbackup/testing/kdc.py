"""A real MIT Kerberos KDC for tests: a throw-away realm served by ``krb5kdc`` on 127.0.0.1.

:class:`TestRealm` creates a realm in a private temporary folder (its own ``kdc.conf`` and
``krb5.conf``: no file of the machine is read or written), starts Debian's ``krb5kdc`` on a free port
of 127.0.0.1, adds principals with ``kadmin.local``, exports keytabs (``ktadd``) and gets tickets
with the real ``kinit`` (the password piped to it on stdin, never on a command line)::

    with TestRealm() as realm:
        realm.add_user("backup-admin", password)
        realm.add_host("node-a.clpbackup.test", ok_as_delegate=True)   # host/ and HTTP/ service names
        keytab = realm.keytab("node-a.clpbackup.test")                  # the node's keys
        ccache = realm.kinit("backup-admin", password, forwardable=True)

:meth:`TestRealm.activate` points this process's Kerberos library at the realm (``KRB5_CONFIG``), as
``/etc/krb5.conf`` does on a machine joined to a domain; :meth:`TestRealm.stop` stops the KDC, puts
the environment back and removes the folder.

The client configuration is the one ``docs/security.md`` recommends for WinRM: ``rdns = false`` and
``dns_canonicalize_hostname = false`` (the service name is built from the name clpbackup is given,
not from what DNS or a reverse lookup make of it), the realm's KDC named explicitly.

Needs the Debian packages ``krb5-kdc``, ``krb5-admin-server`` (``kadmin.local``) and ``krb5-user``
(``kinit``, ``klist``); :func:`kdc_missing` says what is missing (``.ci/install-kerberos`` installs
them). The simulator's Kerberos acceptor also needs the ``gssapi`` Python package
(``pip install 'clpbackup[kerberos]'``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["DOMAIN", "KDC_TOOLS", "REALM", "KdcError", "TestRealm", "kdc_missing"]

#: The realm of the test KDC and the DNS domain its hosts are named in.
REALM = "CLPBACKUP.TEST"
DOMAIN = "clpbackup.test"
#: Programs the realm needs (Debian: krb5-kdc, krb5-admin-server, krb5-user).
KDC_TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist", "kdestroy")
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
#: Service classes a Windows computer account answers to over WinRM: pypsrp asks for ``host/<name>``
#: (its default service), Windows' own WinRM client for ``HTTP/<name>`` (which Active Directory
#: maps to the computer account's HOST SPN; an MIT KDC has no such mapping, so both are added).
SERVICE_CLASSES = ("host", "HTTP")


class KdcError(RuntimeError):
    """The test realm could not be created, started or asked for something."""


def _which(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    for folder in _SBIN:
        path = os.path.join(folder, tool)
        if os.access(path, os.X_OK):
            return path
    return None


def kdc_missing() -> str | None:
    """Why a test realm cannot run here (``None`` when it can)."""
    missing = [t for t in KDC_TOOLS if _which(t) is None]
    if missing:
        return (
            f"MIT Kerberos tools missing: {', '.join(missing)} (Debian: apt-get install krb5-kdc "
            "krb5-admin-server krb5-user; .ci/install-kerberos)"
        )
    try:
        import gssapi  # noqa: F401
    except ImportError:
        return "the gssapi Python package is missing (pip install 'clpbackup[kerberos]'; needs libkrb5-dev)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestRealm:
    """A throw-away Kerberos realm served by a real ``krb5kdc`` (see the module docstring).

    Args:
        realm: the realm name (upper case).
        domain: the DNS domain mapped to the realm (``[domain_realm]``).
        max_life: the longest ticket the KDC issues (``kinit -l`` may ask for less).
    """

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, realm: str = REALM, domain: str = DOMAIN, *, max_life: str = "10h") -> None:
        self.realm = realm
        self.domain = domain
        self.max_life = max_life
        self.port = 0
        self.folder: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] | None = None
        self._kinits = 0

    def __repr__(self) -> str:
        state = f"127.0.0.1:{self.port}" if self._proc is not None else "stopped"
        return f"<TestRealm {self.realm} {state}>"

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def krb5_conf(self) -> Path:
        """The client configuration (what ``KRB5_CONFIG`` points at)."""
        return self._dir / "krb5.conf"

    @property
    def _dir(self) -> Path:
        if self.folder is None:
            raise KdcError("the realm is not started")
        return self.folder

    @property
    def kdc_log(self) -> Path:
        """The KDC's log (every AS-REQ / TGS-REQ and its answer)."""
        return self._dir / "kdc.log"

    def start(self) -> TestRealm:
        """Create the realm's database and start ``krb5kdc``; answers ``self``."""
        if self._proc is not None:
            return self
        why = kdc_missing()
        if why is not None:
            raise KdcError(why)
        self.folder = Path(tempfile.mkdtemp(prefix="clpbackup-kdc-"))
        try:
            self._create()
            self._serve()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        d = self._dir
        self.port = _free_port()
        (d / "kdc.conf").write_text(
            "[kdcdefaults]\n"
            f" kdc_listen = 127.0.0.1:{self.port}\n"
            f" kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "[realms]\n"
            f" {self.realm} = {{\n"
            f"  database_name = {d}/principal\n"
            f"  key_stash_file = {d}/stash\n"
            f"  acl_file = {d}/kadm5.acl\n"
            f"  max_life = {self.max_life}\n"
            "  max_renewable_life = 1d\n"
            "  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
            " }\n"
            "[logging]\n"
            f" kdc = FILE:{d}/kdc.log\n"
            f" admin_server = FILE:{d}/kadmin.log\n",
            encoding="utf-8",
        )
        (d / "kadm5.acl").write_text("", encoding="utf-8")
        (d / "krb5.conf").write_text(
            "[libdefaults]\n"
            f" default_realm = {self.realm}\n"
            " dns_lookup_kdc = false\n"
            " dns_lookup_realm = false\n"
            " dns_canonicalize_hostname = false\n"
            " rdns = false\n"
            # hand a ticket only to services the realm trusts for delegation (OK-AS-DELEGATE), as
            # Windows clients do; MIT's default would forward it to any service
            " enforce_ok_as_delegate = true\n"
            " udp_preference_limit = 1\n"
            f" default_ccache_name = FILE:{d}/ccache-default\n"
            f" default_keytab_name = FILE:{d}/no-default.keytab\n"
            "[realms]\n"
            f" {self.realm} = {{\n"
            f"  kdc = 127.0.0.1:{self.port}\n"
            " }\n"
            "[domain_realm]\n"
            f" .{self.domain} = {self.realm}\n"
            f" {self.domain} = {self.realm}\n",
            encoding="utf-8",
        )
        # The master key only protects this throw-away database; random, never shown.
        master = os.urandom(24).hex()
        self._run(["kdb5_util", "create", "-s", "-r", self.realm, "-P", master, "-W"])

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KRB5_CONFIG"] = str(self._dir / "krb5.conf")
        env["KRB5_KDC_PROFILE"] = str(self._dir / "kdc.conf")
        env["KRB5RCACHEDIR"] = str(self._dir)
        env.pop("KRB5CCNAME", None)
        env.pop("KRB5_CLIENT_KTNAME", None)
        env.pop("KRB5_KTNAME", None)
        return env

    def _run(self, argv: list[str], *, stdin: str | None = None) -> str:
        exe = _which(argv[0]) or argv[0]
        res = subprocess.run(
            [exe, *argv[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            env=self._env(),
            timeout=60,
            check=False,
        )
        if res.returncode != 0:
            raise KdcError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed: {res.stderr.strip()}")
        return res.stdout

    def _serve(self) -> None:
        exe = _which("krb5kdc") or "krb5kdc"
        # -n: stay in the foreground (a child this object stops); -r: this realm only.
        self._proc = subprocess.Popen(
            [exe, "-n", "-r", self.realm],
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise KdcError(f"krb5kdc exited with {self._proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise KdcError(f"krb5kdc did not listen on 127.0.0.1:{self.port} within 15 s")

    def stop(self) -> None:
        """Stop the KDC, restore the environment :meth:`activate` changed, remove the folder."""
        self.deactivate()
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            if proc.stderr is not None:
                proc.stderr.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    @property
    def running(self) -> bool:
        """The KDC process is up."""
        return self._proc is not None and self._proc.poll() is None

    def pause(self) -> None:
        """Stop the KDC process but keep the realm (its database, keytabs, tickets): the "KDC
        unreachable" case. :meth:`resume` starts it again on the same port."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=5)
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()

    def resume(self) -> None:
        """Start the KDC again after :meth:`pause`."""
        if self._proc is None:
            self._serve()

    def __enter__(self) -> TestRealm:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- this process's Kerberos configuration ---------------------------------------------------

    def activate(self, ccache: str | Path | None = None) -> None:
        """Point this process's Kerberos library at the realm: ``KRB5_CONFIG`` (and ``KRB5CCNAME``
        when ``ccache`` is given). Undone by :meth:`deactivate` / :meth:`stop`."""
        if self._saved_env is None:
            self._saved_env = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5CCNAME", "KRB5RCACHEDIR")}
        os.environ["KRB5_CONFIG"] = str(self.krb5_conf)
        # the acceptors' replay cache stays in the realm's folder (removed with it), not in /var/tmp
        os.environ["KRB5RCACHEDIR"] = str(self._dir)
        if ccache is not None:
            os.environ["KRB5CCNAME"] = str(ccache)

    def deactivate(self) -> None:
        """Put back the variables :meth:`activate` changed."""
        saved, self._saved_env = self._saved_env, None
        if saved is None:
            return
        for key, value in saved.items():
            if value is None:
                # set empty rather than delete: other threads may read the environment meanwhile
                # (see clpbackup.testing.auth, NegotiateAcceptor.step)
                if key in os.environ:
                    os.environ[key] = ""
            else:
                os.environ[key] = value

    # --- principals ------------------------------------------------------------------------------

    def principal(self, name: str) -> str:
        """``name@REALM`` unless ``name`` already names a realm."""
        return name if "@" in name else f"{name}@{self.realm}"

    def kadmin(self, query: str) -> str:
        """Run one ``kadmin.local`` query on the realm's database; answers its output."""
        return self._run(["kadmin.local", "-r", self.realm, "-q", query])

    def add_user(self, name: str, password: str) -> str:
        """Add a user principal with ``password`` (given on stdin); answers ``name@REALM``."""
        principal = self.principal(name)
        # kadmin.local reads the password twice from stdin when -pw is not given: no command line
        # (ps, /proc) ever shows it.
        query = f"cpw {principal}" if self.exists(principal) else f"addprinc {principal}"
        self._run(["kadmin.local", "-r", self.realm, "-q", query], stdin=f"{password}\n{password}\n")
        return principal

    def service_principals(self, host: str) -> list[str]:
        """The service principals of a computer called ``host`` (``host/<host>``, ``HTTP/<host>``)."""
        return [self.principal(f"{cls}/{host}") for cls in SERVICE_CLASSES]

    def add_host(self, host: str, *, ok_as_delegate: bool = False) -> list[str]:
        """Add a computer's service principals with random keys (``addprinc -randkey``), as joining
        a domain does; ``ok_as_delegate`` is Active Directory's "Trust this computer for
        delegation" (the KDC then marks its tickets OK-AS-DELEGATE)."""
        out = []
        flag = "+ok_as_delegate" if ok_as_delegate else "-ok_as_delegate"
        for principal in self.service_principals(host):
            self._add_randkey(principal, flag)
            out.append(principal)
        return out

    def add_service(self, service: str, host: str) -> str:
        """Add one service principal (``cifs/<host>`` of a file server); answers it."""
        principal = self.principal(f"{service}/{host}")
        self._add_randkey(principal)
        return principal

    def exists(self, principal: str) -> bool:
        """The principal is in the realm's database."""
        return self.principal(principal) in self.kadmin("listprincs").split()

    def _add_randkey(self, principal: str, *flags: str) -> None:
        # A second cluster in the same realm names the same computers: keep the principal, set
        # its flags (its keys change with the next ktadd, as a computer password change does).
        if self.exists(principal):
            if flags:
                self.set_flags(principal, *flags)
            return
        self.kadmin(f"addprinc -randkey {' '.join(flags)} {principal}".replace("  ", " "))

    def delete(self, principal: str) -> None:
        """Remove a principal (``delprinc -force``)."""
        self.kadmin(f"delprinc -force {self.principal(principal)}")

    def set_flags(self, principal: str, *flags: str) -> None:
        """``modprinc`` with flags such as ``+ok_as_delegate`` or ``-allow_forwardable``."""
        self.kadmin(f"modprinc {' '.join(flags)} {self.principal(principal)}")

    def keytab(self, host: str, path: str | Path | None = None) -> Path:
        """Export the service keys of ``host`` (:meth:`service_principals`) to a keytab (``ktadd``;
        a new key version, as a computer password change makes); answers its path."""
        target = Path(path) if path is not None else self._dir / f"{host}.keytab"
        for principal in self.service_principals(host):
            self.kadmin(f"ktadd -k {target} {principal}")
        return target

    def user_keytab(self, user: str, path: str | Path | None = None) -> Path:
        """Export a user's keys (``ktadd -norandkey``: the password stays valid) to a keytab, for
        ``KRB5_CLIENT_KTNAME`` (a service account without a password prompt); answers its path."""
        principal = self.principal(user)
        target = Path(path) if path is not None else self._dir / f"{user.split('@')[0]}-client.keytab"
        self.kadmin(f"ktadd -norandkey -k {target} {principal}")
        return target

    def kinit(
        self,
        user: str,
        password: str,
        *,
        forwardable: bool = False,
        lifetime: str | None = None,
        ccache: str | Path | None = None,
    ) -> Path:
        """Get a ticket-granting ticket for ``user`` with the real ``kinit`` (password on stdin);
        ``forwardable`` is ``kinit -f`` (``-F`` otherwise), ``lifetime`` ``kinit -l``. Answers the
        credential cache's path (a new ``FILE:`` cache unless ``ccache`` is given)."""
        self._kinits += 1
        target = Path(ccache) if ccache is not None else self._dir / f"ccache-{self._kinits}"
        argv = ["kinit", "-c", f"FILE:{target}", "-f" if forwardable else "-F"]
        if lifetime:
            argv += ["-l", lifetime]
        argv.append(self.principal(user))
        self._run(argv, stdin=f"{password}\n")
        return target

    def klist(self, ccache: str | Path) -> str:
        """``klist -f`` of a cache (its tickets and their flags)."""
        return self._run(["klist", "-f", "-c", f"FILE:{ccache}"])
