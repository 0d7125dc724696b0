"""Windows Server Backup's command line (``wbadmin``) on a simulated 2008 … 2022 node.

* ``start backup -backupTarget:<volume|UNC> -include:<items> [-vssFull|-vssCopy] [-quiet] …`` makes a
  version on the target, identified ``MM/DD/YYYY-HH:MM`` in UTC from the clock. A UNC target keeps
  one version per machine per folder (the next backup overwrites it, as real WSB does); a volume
  target keeps them all. The versions hold a copy of the included files, so a restore gives back
  what was there at backup time. The log goes to
  ``C:\\Windows\\Logs\\WindowsServerBackup\\Backup-DD-MM-YYYY_HH-MM-SS.log`` (UTC).
* It fails, printing ``ERROR - …``, when an included volume is not attached to this node (rule
  JOB-3: the switchover job on the standby node) or a path does not exist, and refuses a switchover
  volume as the target (rule WSB-2).
* ``get versions [-backupTarget:… [-machine:…]]`` lists versions; ``start recovery -version:…
  -itemType:File|Volume -items:… [-backupTarget:… -machine:…] [-recoveryTarget:…] [-recursive]
  [-overwrite:…] -quiet`` restores them and is recorded in ``SimulatedWindows.restores``.

2008 / 2008 R2 print the 6.1-era summary (success line before the summary, "successfully
completed"), the 2012 family (2012 … 2022) the later one, as in the 2019 captures of
``shared/reference/outputs`` (share note, "(Selected Files)", file scan lines). 2008 RTM backs up
whole volumes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from clpbackup.testing.model.base import Proc, ToolResult, lines
from clpbackup.testing.model.fs import (
    ERROR_ACCESS_DENIED,
    FsError,
    Store,
    Volume,
    network_credentials,
    split_path,
)

if TYPE_CHECKING:  # pragma: no cover
    from clpbackup.testing.model.node import SimulatedWindows

WB_FAIL_RC = 1  # real wbadmin exit codes are not documented; the model fails with 1
PROGRESS_STEP = 5  # percent between two "copied (NN%)" lines of a backup that takes model time
LOG_DIR = "\\Logs\\WindowsServerBackup"


@dataclass
class WsbVersion:
    """One backup version on a target."""

    machine: str
    version_id: str
    when: datetime  # UTC
    folder: str  # lower-case key of the target folder in the store ("" = the volume root)
    target_text: str  # the target as wbadmin shows it
    volumes: list[str]
    items: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # full path → bytes at backup time
    node: str = ""


def _versions(store: Store) -> list[WsbVersion]:
    found = store.meta.setdefault("wsb_versions", [])
    assert isinstance(found, list)
    return found


def version_id(when: datetime) -> str:
    """``MM/DD/YYYY-HH:MM`` of a UTC instant."""
    return f"{when.month:02d}/{when.day:02d}/{when.year:04d}-{when.hour:02d}:{when.minute:02d}"


def _options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    bad: list[str] = []
    for a in argv:
        if a[:1] not in "-/":
            bad.append(a)
            continue
        name, sep, value = a[1:].partition(":")
        opts[name.lower()] = value if sep else ""
    return opts, bad


def wbadmin_command(node: SimulatedWindows, proc: Proc, argv: list[str], tail: str) -> ToolResult:
    """``wbadmin <verb> <object> [options]``."""
    head = lines(*node.texts.t("wb.head").split("\n"), "")
    words = [a.lower() for a in argv[:2]]
    if words == ["start", "backup"]:
        r = _start_backup(node, proc, argv[2:])
    elif words == ["get", "versions"]:
        r = _get_versions(node, argv[2:])
    elif words == ["start", "recovery"]:
        r = _start_recovery(node, proc, argv[2:])
    else:
        return node.not_simulated_result("wbadmin " + tail)
    return ToolResult(r.rc, head + r.out, r.err)


def _error(node: SimulatedWindows, out: str, key: str, **kw: object) -> ToolResult:
    return ToolResult(WB_FAIL_RC, out + lines(node.texts.t("wb.error", message=node.texts.t(key, **kw))))


@dataclass
class _Target:
    text: str
    store: Store
    folder: str
    volume: Volume | None
    unc: bool


def _resolve_target(node: SimulatedWindows, text: str) -> _Target | str:
    """The target, or the catalog key of the error."""
    t = text.strip()
    if t.startswith("\\\\"):
        try:
            r = node.fs.resolve(t)
        except FsError as exc:
            # 5: a process of a WinRM session without delegated credentials (the second hop)
            return "win.5" if exc.winerror == ERROR_ACCESS_DENIED else "wb.e_net"
        # WSB writes under <folder>\WindowsImageBackup; the folder is created when missing.
        node.fs.mkdir(r.full)
        return _Target(t, r.store, r.key, None, True)
    if len(t) in (2, 3) and t[1] == ":" and t[0].isalpha() and t[2:] in ("", "\\"):
        vol = node.fs.volume(t)
        if vol is None:
            return "wb.e_target"
        return _Target(t[:2].upper(), vol, "", vol, False)
    return "wb.e_target"


def _start_backup(node: SimulatedWindows, proc: Proc, argv: list[str]) -> ToolResult:
    t = node.texts
    opts, bad = _options(argv)
    known = {
        "backuptarget",
        "include",
        "exclude",
        "nonrecurseinclude",
        "nonrecurseexclude",
        "allcritical",
        "systemstate",
        "noverify",
        "user",
        "password",
        "noinheritacl",
        "vssfull",
        "vsscopy",
        "quiet",
    }
    for name in list(opts):
        if name not in known:
            node.record_not_simulated(f"wbadmin start backup -{name}")
            return _error(node, "", "wb.e_param", param="-" + name)
    if bad:
        return _error(node, "", "wb.e_param", param=bad[0])
    for name in ("nonrecurseinclude", "nonrecurseexclude"):
        if name in opts:
            return node.not_simulated_result(f"wbadmin start backup -{name}")
    excludes = [e.strip().rstrip("\\").upper() for e in opts.get("exclude", "").split(",") if e.strip()]
    if excludes and node.os == "2008":
        # 2008 RTM backs up whole volumes only: no file-level exclusion.
        return _error(node, "", "wb.e_volumes_only")
    if "vssfull" in opts and "vsscopy" in opts:
        return _error(node, "", "wb.e_vss_both")
    if "backuptarget" not in opts:
        if "include" in opts or "allcritical" in opts:
            return _error(node, "", "wb.e_need_target")
        return node.not_simulated_result(
            "wbadmin start backup without -backupTarget (the scheduled backup's settings)"
        )
    out = ""
    target = _resolve_target(node, opts["backuptarget"])
    if isinstance(target, _Target) and target.unc:
        out += lines(*t.t("wb.share_note").split("\n"), "")
    if "quiet" not in opts:
        node.record_not_simulated("wbadmin start backup without -quiet asks [Y]/[N] on the console")
        return ToolResult(
            WB_FAIL_RC, out + t.t("wb.prompt").replace("\n", "\r\n") + "\r\n" + lines(t.t("wb.canceled"))
        )
    out += lines(t.t("wb.retrieving"))
    if isinstance(target, str):
        return _error(node, out, target, target=opts["backuptarget"])
    items = [i.strip() for i in opts.get("include", "").split(",") if i.strip()]
    if "allcritical" in opts or "systemstate" in opts:
        # Bare-metal / system state backups (WSB-1 keeps them out of cluster jobs): the model only
        # records that they were asked for, with the system volume included.
        items = items or ["C:"]
        if "C:" not in [i[:2].upper() for i in items]:
            items.append("C:")
    if not items:
        return _error(node, out, "wb.e_missing", param="-include")
    volumes: list[str] = []
    selected: dict[str, bool] = {}
    for item in items:
        letter = item[:2].upper()
        if len(item) < 2 or item[1] != ":":
            return _error(node, out, "wb.e_path", path=item)
        if not node.fs.has_volume(letter):
            return _error(node, out, "wb.e_volume", vol=letter)  # JOB-3
        whole = item.rstrip("\\").upper() == letter
        if not whole:
            if node.os == "2008":
                return _error(node, out, "wb.e_volumes_only")
            if "*" not in item and not node.fs.exists(item):
                return _error(node, out, "wb.e_path", path=item)
        if letter not in volumes:
            volumes.append(letter)
        selected[letter] = selected.get(letter, False) or not whole
    if target.volume is not None:
        if target.volume.letter in node.switchover_letters:
            return _error(node, out, "wb.e_switchover", target=target.text)  # WSB-2
        if target.volume.letter in volumes:
            return _error(node, out, "wb.e_target_included")
    vol_names = {v: node.fs.volumes[v].display_name for v in volumes}
    shown = ",".join(vol_names[v] + (" " + t.t("wb.selected") if selected[v] else "") for v in volumes)
    out += lines(t.t("wb.will_back_up", items=shown, target=target.text))
    out += lines(t.t("wb.starting", target=target.text))
    now = node.clock.now()
    versions = _versions(target.store)
    machine = node.hostname
    previous = [v for v in versions if v.machine.lower() == machine.lower() and v.folder == target.folder]
    if target.unc and previous:
        out += lines(t.t("wb.updating"))
    out += lines(t.t("wb.shadow"))
    files: dict[str, bytes] = {}
    for item in items:
        letter = item[:2].upper()
        path = letter + "\\" if item.rstrip("\\").upper() == letter else item
        if "*" in path:
            node.record_not_simulated(f"wbadmin -include with a wildcard: {item}")
            continue
        for full, data in node.fs.walk(path):
            if any(full.upper() == e or full.upper().startswith(e + "\\") for e in excludes):
                continue
            files[full] = data
    # In a scheduled run that takes model time (node.backup_duration), the copy lasts that long,
    # shared equally among the volumes, and wbadmin writes "copied (NN%)" as it goes — each update
    # on a line of its own when stdout is not a console (shared/reference/outputs/wbadmin-start-
    # backup_*: the piped captures repeat the line with a growing percentage).
    timed = node.backup_duration > 0 and node.in_background()
    share = timedelta(seconds=node.backup_duration / len(volumes)) if timed else timedelta(0)
    head = lines(*t.t("wb.head").split("\n"), "")
    for i, v in enumerate(volumes):
        if selected[v]:
            n = sum(1 for p in files if p.upper().startswith(v))
            out += lines(
                *t.t("wb.identify", vol=vol_names[v]).split("\n"), t.t("wb.scanning"), t.t("wb.found", n=n)
            )
        if timed:
            begin = now + share * i
            for pct in range(0, 100, PROGRESS_STEP):
                node.sleep_until(begin + share * pct / 100)
                out += lines(t.t("wb.copied", vol=vol_names[v], pct=pct))
                node.stream(proc, head + out)
            node.sleep_until(begin + share)
        out += lines(t.t("wb.copied", vol=vol_names[v], pct=100))
    vid = version_id(now)
    new = WsbVersion(machine, vid, now, target.folder, target.text, volumes, items, files, node.name)
    if target.unc:
        # One version per machine per folder on a network share: the new backup replaces the old.
        versions[:] = [
            v for v in versions if not (v.machine.lower() == machine.lower() and v.folder == target.folder)
        ]
    else:
        versions[:] = [
            v for v in versions if not (v.machine.lower() == machine.lower() and v.version_id == vid)
        ]
    versions.append(new)
    _write_image_files(node, target, new)
    if target.text.upper() not in [x.upper() for x in node.wsb_targets]:
        node.wsb_targets.append(target.text)
    log = _log_path(node, "Backup", now)
    node.fs.write_bytes(
        log,
        ("\ufeff" + "".join(f"{p}\r\n" for p in sorted(files))).encode("utf-16-le"),
        parents=True,
        mtime=now,
    )
    if node.family == "2012":
        out += lines(t.t("wb.summary"), "------------------", "", t.t("wb.ok"))
        out += lines(*[t.t("wb.vol_ok", vol=vol_names[v]) for v in volumes])
    else:
        out += lines(t.t("wb.ok"), t.t("wb.summary"), "------------------", "")
        out += lines(*[t.t("wb.vol_ok_61", vol=vol_names[v]) for v in volumes])
    out += lines(t.t("wb.log_ok"), log)
    return ToolResult(0, out)


def _write_image_files(node: SimulatedWindows, target: _Target, version: WsbVersion) -> None:
    """What WSB leaves on the target: ``WindowsImageBackup\\<COMPUTER>\\Backup YYYY-MM-DD HHMMSS``."""
    base = target.store.root + ("\\" + target.store.display(target.folder) if target.folder else "")
    machine_dir = f"{base}\\WindowsImageBackup\\{version.machine}"
    if target.unc:
        # the previous version's folder is replaced
        for name in node.fs.listdir(machine_dir) if node.fs.is_dir(machine_dir) else []:
            if name.startswith("Backup "):
                node.fs.rmtree(f"{machine_dir}\\{name}")
    folder = f"{machine_dir}\\Backup {version.when:%Y-%m-%d %H%M%S}"
    node.fs.mkdir(folder)
    node.fs.write_bytes(f"{machine_dir}\\MediaId", b"\x01\x00\x00\x00", mtime=version.when)
    for vol in version.volumes:
        node.fs.write_bytes(f"{folder}\\{vol[0]}.vhd", b"conectix", mtime=version.when)


def _log_path(node: SimulatedWindows, kind: str, when: datetime) -> str:
    return f"{node.windir}{LOG_DIR}\\{kind}-{when:%d-%m-%Y_%H-%M-%S}.log"


def _all_versions(
    node: SimulatedWindows, location: str | None, machine: str | None
) -> list[WsbVersion] | str:
    found: list[WsbVersion] = []
    targets = [location] if location else list(node.wsb_targets)
    for text in targets:
        if location is None:
            # Without -backupTarget wbadmin lists the local catalog, "even if those backups are not
            # available" (wbadmin get versions, 2012+ docs): no share access is needed for that.
            with network_credentials(True):
                target = _resolve_target(node, text) if _target_like(text) else "wb.e_target"
        else:
            target = _resolve_target(node, text) if _target_like(text) else "wb.e_target"
        if isinstance(target, str):
            if location:
                return target
            continue  # a target of this node's catalog that is gone (a share unreachable …)
        for v in _versions(target.store):
            if v.folder != target.folder:
                continue
            if machine is not None and v.machine.lower() != machine.lower():
                continue
            if location is None and v.machine.lower() != node.hostname.lower():
                continue
            found.append(v)
    found.sort(key=lambda v: v.when)
    return found


def _target_like(text: str) -> bool:
    return text.startswith("\\\\") or len(text) <= 3


def _get_versions(node: SimulatedWindows, argv: list[str]) -> ToolResult:
    t = node.texts
    opts, bad = _options(argv)
    for name in opts:
        if name not in ("backuptarget", "machine"):
            return _error(node, "", "wb.e_param", param="-" + name)
    if bad:
        return _error(node, "", "wb.e_param", param=bad[0])
    found = _all_versions(node, opts.get("backuptarget"), opts.get("machine"))
    if isinstance(found, str):
        return _error(node, "", found, target=opts.get("backuptarget", ""))
    if not found:
        return _error(node, "", "wb.e_no_versions")
    out: list[str] = []
    for v in found:
        local = node.time.to_local(v.when)
        when = t.datetime_short(local)
        if v.target_text.startswith("\\\\"):
            loc = t.t(
                "wb.v_share", path=v.target_text if v.target_text.endswith("\\") else v.target_text + "\\"
            )
        else:
            vol = node.fs.volume(v.target_text)
            loc = t.t("wb.v_disk", label=vol.display_name if vol else f"({v.target_text})")
        location_key = "wb.v_location" if node.family == "2012" else "wb.v_target"
        out += [
            t.t("wb.v_time", value=when),
            t.t(location_key, value=loc),
            t.t("wb.v_id", value=v.version_id),
            t.t("wb.v_recover", value=t.t("wb.v_recover_items")),
            "",
        ]
    return ToolResult(0, lines(*out))


def _start_recovery(node: SimulatedWindows, proc: Proc, argv: list[str]) -> ToolResult:
    t = node.texts
    opts, bad = _options(argv)
    known = {
        "version",
        "items",
        "itemtype",
        "backuptarget",
        "machine",
        "recoverytarget",
        "recursive",
        "overwrite",
        "notrestoreacl",
        "skipbadclustercheck",
        "norollforward",
        "quiet",
    }
    for name in opts:
        if name not in known:
            return _error(node, "", "wb.e_param", param="-" + name)
    if bad:
        return _error(node, "", "wb.e_param", param=bad[0])
    for name in ("version", "items", "itemtype"):
        if not opts.get(name):
            return _error(node, "", "wb.e_missing", param="-" + name)
    if "quiet" not in opts:
        node.record_not_simulated("wbadmin start recovery without -quiet asks [Y]/[N] on the console")
        return ToolResult(
            WB_FAIL_RC, t.t("wb.prompt_recovery").replace("\n", "\r\n") + "\r\n" + lines(t.t("wb.canceled"))
        )
    out = lines(t.t("wb.retrieving"))
    found = _all_versions(node, opts.get("backuptarget"), opts.get("machine"))
    if isinstance(found, str):
        return _error(node, out, found, target=opts.get("backuptarget", ""))
    matches = [v for v in found if v.version_id == opts["version"]]
    if not matches:
        return _error(node, out, "wb.e_version", version=opts["version"])
    version = matches[-1]
    itemtype = opts["itemtype"].lower()
    items = [i.strip() for i in opts["items"].split(",") if i.strip()]
    when = t.datetime_short(node.time.to_local(version.when))
    if node.recovery_duration > 0 and node.in_background():
        # a recovery takes time, like a backup: the drill's task shows Running meanwhile
        node.sleep_until(node.clock.now() + timedelta(seconds=node.recovery_duration))
    now = node.clock.now()
    restored: list[str] = []
    if itemtype == "volume":
        if len(items) != 1:
            return _error(node, out, "wb.e_param", param="-items")
        letter = items[0][:2].upper()
        if letter not in version.volumes:
            return _error(node, out, "wb.e_item", item=items[0], version=version.version_id)
        dest = (opts.get("recoverytarget") or letter)[:2].upper()
        vol = node.fs.volume(dest)
        if vol is None:
            return _error(node, out, "wb.e_volume", vol=dest)
        out += lines(*t.t("wb.r_chosen_volume", items=letter, when=when, target=dest).split("\n"))
        vol.files.clear()
        vol.dirs = {"": ""}
        for path, data in version.files.items():
            if path.upper().startswith(letter + "\\"):
                new_path = dest + path[2:]
                node.fs.write_bytes(new_path, data, parents=True, mtime=now)
                restored.append(new_path)
        out += lines(
            t.t("wb.r_running", item=letter, pct=100),
            t.t("wb.r_completed"),
            t.t("wb.r_summary"),
            "--------------------",
            "",
            t.t("wb.r_item_ok", item=letter, target=dest),
        )
        target_text = dest
    elif itemtype == "file":
        recursive = "recursive" in opts
        mode = (opts.get("overwrite") or "CreateCopy").lower()
        if mode not in ("overwrite", "createcopy", "skip"):
            return _error(node, out, "wb.e_param", param="-overwrite")
        rt = opts.get("recoverytarget")
        target_text = rt or "(original location)"
        out += lines(
            *t.t(
                "wb.r_chosen_files",
                items=",".join(items),
                when=when,
                target=rt or items[0].rpartition("\\")[0] + "\\",
            ).split("\n"),
            t.t("wb.r_preparing"),
            "",
        )
        ok_lines: list[str] = []
        for item in items:
            root, parts = split_path(item)
            item_full = root + "\\" + "\\".join(parts)
            parent = item_full.rpartition("\\")[0]
            chosen = []
            for path, data in version.files.items():
                low, ilow = path.lower(), item_full.lower()
                if low == ilow:
                    chosen.append((path, data))
                elif low.startswith(ilow + "\\"):
                    rest = path[len(item_full) + 1 :]
                    if recursive or "\\" not in rest:
                        chosen.append((path, data))
            if not chosen:
                return _error(node, out, "wb.e_item", item=item, version=version.version_id)
            dest_base = rt.rstrip("\\") if rt else parent
            for path, data in chosen:
                new_path = dest_base + path[len(parent) :]
                if node.fs.exists(new_path):
                    if mode == "skip":
                        continue
                    if mode == "createcopy":
                        stem, dot, ext = new_path.rpartition(".")
                        new_path = f"{stem} (1).{ext}" if dot and "\\" not in ext else new_path + " (1)"
                try:
                    node.fs.write_bytes(new_path, data, parents=True, mtime=now)
                except FsError:
                    return _error(node, out, "wb.e_path", path=new_path)
                restored.append(new_path)
            out += lines(
                t.t("wb.r_running", item=item, pct=100),
                t.t("wb.r_current", item=item),
                t.t("wb.r_success_item", item=item, target=rt or parent + "\\"),
            )
            ok_lines.append(t.t("wb.r_item_ok", item=item, target=rt or parent + "\\"))
        out += lines(t.t("wb.r_completed"), t.t("wb.r_summary"), "--------------------", "", *ok_lines)
    else:
        return node.not_simulated_result(f"wbadmin start recovery -itemType:{opts['itemtype']}")
    size = sum(
        len(version.files[p]) for p in version.files if p.lower() in {r.lower() for r in restored}
    ) or sum(len(node.fs.read_bytes(r)) for r in restored)
    out += lines(
        t.t("wb.r_bytes", size=_size(size)), t.t("wb.r_files", n=len(restored)), t.t("wb.r_failed", n=0), ""
    )
    log = _log_path(node, "FileRestore" if itemtype == "file" else "VolumeRestore", now)
    node.fs.write_bytes(
        log, ("\ufeff" + "".join(f"{p}\r\n" for p in restored)).encode("utf-16-le"), parents=True, mtime=now
    )
    out += lines(t.t("wb.r_log"), log)
    node.restores.append(
        {
            "when": now,
            "version": version.version_id,
            "machine": version.machine,
            "itemtype": itemtype,
            "items": items,
            "recovery_target": target_text,
            "files": restored,
            "backup_target": version.target_text,
        }
    )
    return ToolResult(0, out)


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.2f} MB"
    if n >= 1024:
        return f"{n / 1024:.2f} KB"
    return f"{n} bytes"
