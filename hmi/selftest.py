"""``gas-hmi --self-test``: is this installation able to run its station?

Each check prints one line, PASS or FAIL (WARN for things worth knowing that do not
stop the station), and the exit status is 0 only when none failed:

* resources  — symbols, themes, icons, translations, fonts are where paths.py says
* config     — the station config loads and validates
* drivers    — every driver in ``drivers.base.DRIVERS`` and the uplink import
* databases  — the runtime's stores (history, alarms, users, outbox...) are created in a
  scratch folder by a real runtime start/stop; every ``*.db`` already in the data
  folder is opened read-only and integrity-checked
* data dir   — the data folder (or its parent) is writable; who holds it now
* keyring    — a backend is usable, a file keyring is private, every secret the
  config names is stored
* qt:<platform> — Qt starts on that platform (offscreen always; xcb with a display,
  windows on Windows) in a child process, loads SVG and the HMI modules, and a CJK
  font draws Chinese
* translations — the zh_CN and en catalogs load

Nothing here needs the network or a device.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hmi import paths

log = logging.getLogger(__name__)

#: databases above this size get a schema read instead of a full integrity scan
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024
QT_PROBE_TIMEOUT = 90.0


@dataclass
class Check:
    """Outcome of one check."""

    name: str
    ok: bool
    detail: str
    warn: bool = False

    @property
    def status(self) -> str:
        """PASS, WARN or FAIL."""
        if not self.ok:
            return "FAIL"
        return "WARN" if self.warn else "PASS"


class SelfTest:
    """Runs every check for one station; :meth:`run` returns the list of outcomes."""

    def __init__(self, station_dir: Path, data_dir: Path | None = None, gui: bool = True) -> None:
        self.station_dir = Path(station_dir)
        self.data_dir = data_dir
        self.gui = gui
        self.cfg: Any = None
        self.checks: list[Check] = []

    def add(self, name: str, ok: bool, detail: str, warn: bool = False) -> Check:
        """Record one outcome."""
        check = Check(name, ok, detail, warn)
        self.checks.append(check)
        return check

    def run(self) -> list[Check]:
        """Every check, in order; a check that raises is a FAIL naming the error."""
        steps = [
            self.check_resources,
            self.check_config,
            self.check_drivers,
            self.check_devices,
            self.check_databases,
            self.check_data_dir,
            self.check_keyring,
            self.check_qt,
            self.check_translations,
        ]
        for step in steps:
            try:
                step()
            except Exception as exc:  # the report must come out whatever breaks
                log.debug("self-test step %s", step.__name__, exc_info=True)
                self.add(
                    step.__name__.removeprefix("check_").replace("_", " "),
                    False,
                    f"{type(exc).__name__}: {exc}",
                )
        return self.checks

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(c.ok for c in self.checks)

    # ------------------------------------------------------------------ checks
    def check_resources(self) -> None:
        """Files the HMI loads at run time."""
        res = paths.resources_dir()
        needed = [
            "i18n/en.yaml",
            "i18n/zh_CN.yaml",
            "themes/light.qss",
            "themes/dark.qss",
            "icons/app.svg",
        ]
        missing = [n for n in needed if not (res / n).is_file()]
        symbols = len(list((res / "symbols").glob("*.svg")))
        fonts = sorted(
            p.name
            for p in paths.fonts_dir().glob("*")
            if p.suffix.lower() in (".ttf", ".otf", ".ttc")
        )
        where = (
            "bundle " + paths.bundle_info().get("name", "?")
            if paths.is_frozen()
            else "source checkout"
        )
        if paths.is_frozen() and not fonts:
            missing.append("fonts/ (a CJK font)")
        if (
            paths.is_frozen()
            and fonts
            and not list(paths.fonts_dir().glob("*LICENSE*")) + list(paths.fonts_dir().glob("OFL*"))
        ):
            missing.append("fonts/ licence file")
        if not symbols:
            missing.append("symbols/*.svg")
        detail = f"{where}: {symbols} symbols, fonts: {', '.join(fonts) or 'system'}"
        self.add(
            "resources",
            not missing,
            detail + (f"; missing {', '.join(missing)} in {res}" if missing else ""),
        )

    def check_config(self) -> None:
        """Load and validate the station config."""
        from hmi.config import ConfigError, load_station

        try:
            self.cfg = load_station(self.station_dir)
        except ConfigError as exc:
            shown = "; ".join(str(p) for p in exc.problems[:5])
            more = f" (+{len(exc.problems) - 5} more)" if len(exc.problems) > 5 else ""
            self.add(
                "config",
                False,
                f"{len(exc.problems)} problem(s) in {self.station_dir}: {shown}{more}",
            )
            return
        cfg = self.cfg
        self.add(
            "config",
            True,
            f"station {cfg.station.id}: {len(cfg.tags)} tags, {len(cfg.devices)} devices, "
            f"{len(cfg.screens)} screens",
        )
        if self.data_dir is None:
            self.data_dir = paths.station_data_dir(cfg.station.id)

    def check_drivers(self) -> None:
        """Import every registered driver (and its address module) and the uplink."""
        import importlib

        from drivers.base import ADDRESS_MODULES, DRIVERS, driver_class

        bad = []
        for protocol in DRIVERS:
            try:
                driver_class(protocol)
                if protocol in ADDRESS_MODULES:
                    importlib.import_module(ADDRESS_MODULES[protocol])
            except Exception as exc:  # an ImportError deep in a protocol library, typically
                bad.append(f"{protocol}: {type(exc).__name__}: {exc}")
        try:
            importlib.import_module("hmi.core.uplink")
        except Exception as exc:
            bad.append(f"uplink: {type(exc).__name__}: {exc}")
        self.add(
            "drivers",
            not bad,
            "; ".join(bad) if bad else f"{', '.join(DRIVERS)} and the MQTT uplink import",
        )

    def check_devices(self) -> None:
        """Each field device's host resolves, serial port exists, OPC UA trust is in place."""
        from hmi.selftest_devices import device_problems

        if self.cfg is None:
            self.add("devices", False, "the station config did not load")
            return
        data_dir = Path(self.data_dir) if self.data_dir is not None else Path(".")
        fails, warns = device_problems(self.cfg, data_dir)
        n = sum(1 for d in self.cfg.devices if d.enabled and d.protocol not in ("system", "calc"))
        if fails:
            self.add("devices", False, "; ".join(fails + warns))
        elif warns:
            self.add("devices", True, "; ".join(warns), warn=True)
        else:
            self.add(
                "devices", True, f"{n} field device(s): hosts resolve, ports and trust in place"
            )

    def check_databases(self) -> None:
        """A real runtime start/stop in a scratch folder, then the existing files read-only."""
        if self.cfg is None:
            self.add("databases", False, "skipped: no valid config")
            return
        from hmi.core.runtime import Runtime
        from hmi.core.uplink.outbox import Outbox

        cfg = self.cfg
        offline = cfg.model_copy(
            update={"devices": [d.model_copy(update={"enabled": False}) for d in cfg.devices]}
        )
        with tempfile.TemporaryDirectory(prefix="gas-hmi-selftest-") as tmp:
            rt = Runtime(offline, tmp, uplink=cfg.uplink.model_copy(update={"enabled": False}))
            rt.start()
            rt.stop()
            outbox = Outbox(Path(tmp) / "outbox.db", 1024 * 1024)
            outbox.close()
            created = sorted(p.name for p in Path(tmp).glob("*.db"))
        notes = [f"created {', '.join(created)} in a scratch folder"]
        ok = True
        data = self.data_dir
        existing = sorted(data.glob("*.db")) if data is not None and data.is_dir() else []
        for path in existing:  # every store, including ones added after this check was written
            good, note = _inspect_db(path)
            ok &= good
            notes.append(note)
        if data is not None and not existing:
            notes.append(f"no databases yet in {data}")
        self.add("databases", ok, "; ".join(notes))

    def check_data_dir(self) -> None:
        """Writable data folder; who runs the station now; free disk space."""
        from hmi.instance import is_running

        data = self.data_dir
        if data is None:
            self.add("data dir", False, "unknown (no valid config and no --data-dir)")
            return
        probe = data if data.is_dir() else _existing_parent(data)
        try:
            fd, name = tempfile.mkstemp(dir=probe, prefix=".selftest-")
            os.close(fd)
            os.unlink(name)
        except OSError as exc:
            self.add("data dir", False, f"{data}: cannot write in {probe}: {exc}")
            return
        free_mb = shutil.disk_usage(probe).free / 1e6
        holder = is_running(data) if data.is_dir() else None
        state = (
            f"in use by PID {holder.get('pid', '?')} ({holder.get('mode', '?')})"
            if holder
            else "not running"
        )
        budget = float(getattr(getattr(self.cfg, "historian", None), "disk_budget_mb", 0) or 0)
        low = bool(budget) and free_mb < budget
        detail = f"{data} ({'exists' if data.is_dir() else 'will be created'}, {state}, {free_mb:,.0f} MB free)"
        if low:
            detail += f"; less free space than the historian's disk budget ({budget:,.0f} MB)"
        self.add("data dir", True, detail, warn=low)

    def check_keyring(self) -> None:
        """A usable backend, private when file-based, and every named secret stored."""
        from hmi.core.secrets import SecretError, backend_name, get_secret, list_secrets

        try:
            backend = backend_name()
        except SecretError as exc:
            self.add("keyring", False, str(exc))
            return
        station = self.cfg.station.id if self.cfg is not None else ""
        problems: list[str] = []
        notes = [backend]
        file_path = _keyring_file()
        warn = False
        if file_path is not None:
            notes.append(f"file {file_path}")
            loose = _loose_permissions(file_path)
            if loose:
                problems.append(f"{loose}: make it private (chmod 600, folder 700)")
            if not os.environ.get("PYTHON_KEYRING_BACKEND"):
                # keyring fell back to keyrings.alt's plain file because no OS store answered
                warn = True
                notes.append(
                    "chosen by fallback, not on purpose: no Secret Service/Credential Manager here "
                    "(unattended station: set PYTHON_KEYRING_BACKEND, see docs/INSTALL.md)"
                )
        if station:
            list_secrets(station)  # reads the keyring: unlocks it or fails with a message
            from hmi.cli.secrets import secret_names

            missing = []
            for where, name in secret_names(self.cfg):
                try:
                    get_secret(station, name)  # the value is dropped at once, never shown
                except SecretError:
                    missing.append(f"{name} ({where})")
            if missing:
                first = missing[0].split(" ")[0]
                problems.append(
                    f"missing {', '.join(missing)}: store with `gas-hmi secrets set {first} --station {station}`"
                )
            else:
                notes.append(
                    f"{len(secret_names(self.cfg))} secret(s) named by the config, all stored"
                )
        self.add("keyring", not problems, "; ".join(notes + problems), warn=warn)

    def check_qt(self) -> None:
        """Qt in a child process per platform; fonts from the offscreen run."""
        platforms = ["offscreen"]
        if self.gui:
            if sys.platform == "win32":
                platforms.append("windows")
            elif sys.platform == "darwin":
                platforms.append("cocoa")
            elif os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
                platforms.append("wayland")
            elif os.environ.get("DISPLAY"):
                platforms.append("xcb")
        fonts_reported = False
        for platform in platforms:
            result = run_qt_probe(platform)
            if not result.get("ok"):
                self.add(f"qt:{platform}", False, result.get("error", "failed"))
                continue
            self.add(
                f"qt:{platform}",
                True,
                f"Qt {result['qt']} on {result['platform']}, SVG and HMI modules load "
                f"({result['seconds']:.1f} s)",
            )
            if not fonts_reported:
                fonts_reported = True
                fam = result.get("cjk_family")
                bundled = result.get("bundled_families") or []
                if fam:
                    origin = "bundled" if fam in bundled else "system"
                    self.add("fonts", True, f"Chinese renders with {fam} ({origin})")
                else:
                    self.add(
                        "fonts",
                        False,
                        "no font that draws Chinese: the bundle's resources/fonts is missing "
                        "or unreadable (on Linux from source: apt install fonts-noto-cjk)",
                    )

    def check_translations(self) -> None:
        """The YAML catalogs load and are not empty."""
        import yaml

        counts = {}
        problems = []
        for lang in ("zh_CN", "en"):
            path = paths.resources_dir() / "i18n" / f"{lang}.yaml"
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            if not isinstance(data, dict):
                problems.append(f"{path.name}: not a mapping")
                continue
            counts[lang] = len(data)
        if counts.get("zh_CN", 0) == 0 and "zh_CN" not in " ".join(problems):
            problems.append("zh_CN.yaml has no entries")
        # en.yaml may be empty: the source texts are English
        detail = ", ".join(f"{k} {v} entries" for k, v in counts.items())
        self.add(
            "translations", not problems, "; ".join([detail, *problems]) if problems else detail
        )


# ---------------------------------------------------------------------- Qt probe
def run_qt_probe(platform: str, timeout: float = QT_PROBE_TIMEOUT) -> dict[str, Any]:
    """Run :func:`qt_probe` in a child process on ``platform``; its JSON result."""
    cmd = [*paths.self_command(), "--self-test-qt", platform]
    env = {**os.environ, "QT_QPA_PLATFORM": platform}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"Qt did not start on {platform} within {timeout:.0f} s"}
    except OSError as exc:
        return {"ok": False, "error": f"cannot start {cmd[0]}: {exc}"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            try:
                return dict(json.loads(line))
            except ValueError:
                break
    tail = " | ".join((proc.stderr or "").strip().splitlines()[-3:])
    return {
        "ok": False,
        "error": f"Qt on {platform} exited {proc.returncode}: {tail or 'no output'}",
    }


def qt_probe(platform: str) -> dict[str, Any]:
    """Start Qt on ``platform`` in this process and report (run in a child by the self-test)."""
    t0 = time.perf_counter()
    os.environ["QT_QPA_PLATFORM"] = platform
    from PySide6 import __version__ as pyside_version
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    app = QApplication(["gas-hmi"])
    from hmi.ui.fonts import cjk_family, register_bundled_fonts

    bundled = register_bundled_fonts()
    family = cjk_family()
    symbol = next(iter(sorted((paths.resources_dir() / "symbols").glob("*.svg"))), None)
    if symbol is None or not QSvgRenderer(str(symbol)).isValid():
        raise RuntimeError("SVG symbols do not load")
    import hmi.ui.app  # noqa: F401 - the HMI's modules are all there (bundle completeness)
    import hmi.ui.main_window  # noqa: F401

    return {
        "ok": True,
        "platform": app.platformName(),
        "qt": pyside_version,
        "cjk_family": family,
        "bundled_families": sorted(set(bundled)),
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------- helpers
def _inspect_db(path: Path) -> tuple[bool, str]:
    """Open read-only; integrity check when small, schema read otherwise."""
    size_mb = path.stat().st_size / 1e6
    try:
        con = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        return False, f"{path.name}: cannot open read-only: {exc}"
    try:
        tables = con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
            result = con.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                return False, f"{path.name}: integrity check failed: {result}"
            return True, f"{path.name} ok ({size_mb:.1f} MB, {tables} tables)"
        return (
            True,
            f"{path.name} opens ({size_mb:.1f} MB, {tables} tables; too large for a quick integrity scan)",
        )
    except sqlite3.Error as exc:
        return False, f"{path.name}: {exc}"
    finally:
        con.close()


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.is_dir():
            return parent
    return Path.cwd()


def _keyring_file() -> Path | None:
    """The file of a file-based keyring backend (keyrings.alt), else None."""
    import keyring

    kr = keyring.get_keyring()
    path = getattr(kr, "file_path", None)
    return Path(path) if isinstance(path, str) else None


def _loose_permissions(path: Path) -> str:
    """Why a keyring file (or its folder) is readable by others; '' when private."""
    if sys.platform == "win32":
        return ""  # NTFS ACLs of %LOCALAPPDATA% are per user already
    # the file must be private; its folder must at least not let others replace it
    for p, bits, what in (
        (path, stat.S_IRWXG | stat.S_IRWXO, "readable"),
        (path.parent, stat.S_IWGRP | stat.S_IWOTH, "writable"),
    ):
        try:
            mode = p.stat().st_mode
        except OSError:
            continue
        if mode & bits:
            return f"{p} is {what} by group/others (mode {stat.S_IMODE(mode):o})"
    return ""


def report(checks: list[Check], out: Any = None, as_json: bool = False, header: str = "") -> None:
    """Print the checks as aligned lines (or JSON) and a summary line."""
    out = out or sys.stdout
    if as_json:
        json.dump(
            {
                "ok": all(c.ok for c in checks),
                "checks": [asdict(c) | {"status": c.status} for c in checks],
            },
            out,
            ensure_ascii=False,
            indent=2,
        )
        out.write("\n")
        return
    if header:
        print(header, file=out)
    width = max((len(c.name) for c in checks), default=0)
    for c in checks:
        print(f"  {c.status:4}  {c.name:<{width}}  {c.detail}", file=out)
    failed = [c for c in checks if not c.ok]
    # worded so that CI log scanners do not take it for a test-runner summary
    if failed:
        print(
            f"self-test FAILED: {len(failed)} of {len(checks)} checks ({', '.join(c.name for c in failed)})",
            file=out,
        )
    else:
        print(f"self-test passed: all {len(checks)} checks", file=out)
