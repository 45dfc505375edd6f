"""Build the gas-hmi bundle of one station: ``python packaging/build.py STATION_DIR``.

Produces, under ``dist/``:

* ``gas-hmi-<station>-<version>/`` — a PyInstaller one-folder bundle: the ``gas-hmi``
  executable, Python and Qt, the station's config, its screens and resources/ (symbols,
  themes, translations and the Noto Sans CJK font with its licence). Runs with no
  Python and no network on the target machine.
* on Linux, ``gas-hmi-<station>-<version>-linux-<arch>.tar.gz`` — that folder plus
  ``install.sh``, the desktop launcher and the systemd units (packaging/linux/);
* on Windows, ``gas-hmi-<station>-<version>-setup.exe`` when Inno Setup's ``ISCC`` is
  installed (packaging/windows/gas-hmi.iss), otherwise the command to make it;
* ``gas-hmi-<station>-<version>.build.json`` — size, file count, build time.

Bundles are built on the platform they run on (PyInstaller does not cross-compile):
Windows bundles on a Windows machine with the same command. See docs/INSTALL.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
sys.path.insert(0, str(ROOT))

#: where a CJK font is looked for when --cjk-font is not given (first hit wins)
CJK_FONT_CANDIDATES = (
    ROOT / "resources" / "fonts" / "NotoSansCJK-Regular.ttc",
    ROOT / "resources" / "fonts" / "NotoSansCJKsc-Regular.otf",
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # Debian/Ubuntu fonts-noto-cjk
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),  # Fedora, Arch
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
)
FONT_LICENSE = PACKAGING / "fonts" / "NotoSansCJK-LICENSE.txt"
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")
STAGE_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.db", "*.db-wal", "*.db-shm", "*.log", ".*"
)


class BuildError(Exception):
    """The bundle cannot be built; the message says why."""


class BundleBuilder:
    """One station's bundle: stage data, run PyInstaller, add launchers, archive, measure."""

    def __init__(
        self,
        station_dir: Path,
        version: str,
        dist: Path,
        work: Path,
        cjk_font: Path | None,
        archive: bool = True,
    ) -> None:
        self.station_dir = station_dir.resolve()
        self.version = version
        self.dist = dist.resolve()
        self.work = work.resolve()
        self.cjk_font = cjk_font
        self.archive_wanted = archive
        self.cfg: Any = None
        self.name = ""
        self.t0 = time.monotonic()
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ steps
    def validate(self) -> None:
        """Load the station config; refuse to package a broken one."""
        from hmi.config import ConfigError, load_station

        if not VERSION_RE.match(self.version):
            raise BuildError(f"version {self.version!r} may use only letters, digits and . + _ -")
        try:
            self.cfg = load_station(self.station_dir)
        except ConfigError as exc:
            lines = "\n".join(str(p) for p in exc.problems)
            raise BuildError(
                f"{len(exc.problems)} problem(s) in {self.station_dir}:\n{lines}"
            ) from None
        self.name = f"gas-hmi-{self.cfg.station.id}-{self.version}"
        if self.cjk_font is None:
            self.cjk_font = next((p for p in CJK_FONT_CANDIDATES if p.is_file()), None)
        if self.cjk_font is None or not self.cjk_font.is_file():
            raise BuildError(
                "no CJK font to ship: install Debian's fonts-noto-cjk, or pass --cjk-font "
                "PATH/TO/NotoSansCJKsc-Regular.otf (from github.com/notofonts/noto-cjk, OFL)"
            )

    def stage(self) -> Path:
        """Copy what the bundle carries as data into work/stage."""
        from hmi import paths
        from hmi.config.loader import screens_root

        stage = self.work / "stage"
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir(parents=True)
        shutil.copytree(paths.resources_dir(), stage / "resources", ignore=STAGE_IGNORE)
        fonts = stage / "resources" / "fonts"
        fonts.mkdir(exist_ok=True)
        assert self.cjk_font is not None
        shutil.copy2(self.cjk_font, fonts / self.cjk_font.name)
        shutil.copy2(FONT_LICENSE, fonts / FONT_LICENSE.name)
        station_id = self.cfg.station.id
        shutil.copytree(
            self.station_dir, stage / "station_configs" / station_id, ignore=STAGE_IGNORE
        )
        # only the screens this station shows (its own screens/ folder travels with the config)
        (stage / "screens").mkdir()
        own = self.station_dir / "screens"
        src = screens_root(self.cfg)
        if src is not None and src.resolve() != own.resolve():
            for s in self.cfg.screens:
                for ext in (".svg", ".yaml"):
                    if (src / f"{s.source}{ext}").is_file():
                        shutil.copy2(
                            src / f"{s.source}{ext}", stage / "screens" / f"{s.source}{ext}"
                        )
        info = {
            "name": self.name,
            "station": station_id,
            "station_name": self.cfg.station.name.en,
            "version": self.version,
            "app_version": _app_version(),
            "built": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "platform": f"{sys.platform}-{platform.machine().lower()}",
            "python": platform.python_version(),
        }
        (stage / "bundle.json").write_text(
            json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        return stage

    def pyinstaller(self, stage: Path) -> Path:
        """Run PyInstaller on packaging/gas-hmi.spec; returns the bundle folder."""
        params = {"root": str(ROOT), "stage": str(stage), "name": self.name, "icon": _icon()}
        params_file = self.work / "build-params.json"
        params_file.write_text(json.dumps(params), encoding="utf-8")
        out = self.dist / self.name
        if out.exists():
            shutil.rmtree(out)
        cmd = [
            sys.executable,
            "-m",
            "PyInstaller",
            str(PACKAGING / "gas-hmi.spec"),
            "--noconfirm",
            "--distpath",
            str(self.dist),
            "--workpath",
            str(self.work / "pyinstaller"),
            "--log-level",
            "WARN",
        ]
        env = {**os.environ, "GAS_HMI_BUILD": str(params_file), "QT_QPA_PLATFORM": "offscreen"}
        t = time.monotonic()
        try:
            proc = subprocess.run(cmd, env=env, cwd=ROOT)
        except FileNotFoundError as exc:
            raise BuildError(f"cannot run PyInstaller: {exc}") from None
        self.timings["pyinstaller_s"] = time.monotonic() - t
        if proc.returncode != 0:
            raise BuildError(
                f"PyInstaller failed (exit {proc.returncode}); is it installed? `pip install -e '.[package]'`"
            )
        if not (out / _exe_name()).is_file():
            raise BuildError(f"PyInstaller produced no {out / _exe_name()}")
        return out

    def strip_interpreter(self, bundle: Path) -> None:
        """Drop the debug info of the interpreter's own libraries (Linux).

        A Python built from source (pyenv) keeps ~25 MB of it in libpython and lib-dynload.
        Only those files are touched: the wheels' libraries were rewritten by auditwheel's
        patchelf, which ``strip`` is known to corrupt.
        """
        strip = shutil.which("strip")
        if sys.platform == "win32" or strip is None:
            return
        internal = bundle / "_internal"
        pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
        files = sorted(internal.glob("libpython3*.so*")) + sorted(
            internal.glob(f"{pyver}/lib-dynload/*.so")
        )
        files = [f for f in dict.fromkeys(files) if f.is_file() and not f.is_symlink()]
        if files:
            subprocess.run([strip, "--strip-debug", *map(str, files)], check=False)

    def add_linux_files(self, bundle: Path) -> None:
        """install.sh, the .desktop launcher and the systemd units, filled in for this station."""
        values = {
            "@NAME@": self.name,
            "@STATION@": self.cfg.station.id,
            "@STATION_NAME_EN@": self.cfg.station.name.en,
            "@STATION_NAME_ZH@": self.cfg.station.name.get("zh"),
            "@VERSION@": self.version,
        }
        share = bundle / "share"
        share.mkdir(exist_ok=True)
        for src in sorted((PACKAGING / "linux").iterdir()):
            if src.name.startswith(".") or src.is_dir():
                continue
            text = src.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace(key, value)
            dest = bundle / src.name if src.name == "install.sh" else share / src.name
            dest.write_text(text, encoding="utf-8")
            if src.suffix == ".sh":
                dest.chmod(0o755)
        shutil.copy2(ROOT / "resources" / "icons" / "app.svg", share / "gas-hmi.svg")
        if (ROOT / "docs" / "INSTALL.md").is_file():
            shutil.copy2(ROOT / "docs" / "INSTALL.md", bundle / "INSTALL.md")

    def make_tarball(self, bundle: Path) -> Path:
        """dist/<name>-linux-<arch>.tar.gz of the bundle folder (permissions kept)."""
        out = self.dist / f"{self.name}-linux-{platform.machine().lower()}.tar.gz"
        t = time.monotonic()
        with tarfile.open(out, "w:gz", compresslevel=6) as tar:
            tar.add(bundle, arcname=self.name)
        self.timings["tarball_s"] = time.monotonic() - t
        return out

    def make_windows_installer(self, bundle: Path) -> Path | None:
        """Run Inno Setup's ISCC on packaging/windows/gas-hmi.iss when it is installed."""
        defines = {
            "AppName": self.name,
            "Station": self.cfg.station.id,
            "StationName": self.cfg.station.name.en,
            "Version": self.version,
            "SourceDir": str(bundle),
            "OutputDir": str(self.dist),
        }
        iscc = shutil.which("ISCC") or next(
            (
                str(p)
                for p in (
                    Path(os.environ.get("ProgramFiles(x86)", "C:/Program Files (x86)"))
                    / "Inno Setup 6"
                    / "ISCC.exe",
                )
                if p.is_file()
            ),
            None,
        )
        cmd = [
            iscc or "ISCC.exe",
            *(f"/D{k}={v}" for k, v in defines.items()),
            str(PACKAGING / "windows" / "gas-hmi.iss"),
        ]
        if iscc is None:
            print(
                "Inno Setup not found; to make the installer run:\n  "
                + subprocess.list2cmdline(cmd)
            )
            return None
        if subprocess.run(cmd).returncode != 0:
            raise BuildError("Inno Setup failed")
        return self.dist / f"{self.name}-setup.exe"

    def report(self, bundle: Path, archive: Path | None) -> dict[str, Any]:
        """Size and timing figures, printed and written next to the bundle."""
        files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
        size = sum(p.stat().st_size for p in files)
        largest = sorted(files, key=lambda p: p.stat().st_size, reverse=True)[:12]
        figures: dict[str, Any] = {
            "name": self.name,
            "bundle": str(bundle),
            "bundle_mb": round(size / 1e6, 1),
            "files": len(files),
            "archive": str(archive) if archive else None,
            "archive_mb": round(archive.stat().st_size / 1e6, 1) if archive else None,
            "build_s": round(time.monotonic() - self.t0, 1),
            **{k: round(v, 1) for k, v in self.timings.items()},
            "largest": [
                [str(p.relative_to(bundle)), round(p.stat().st_size / 1e6, 1)] for p in largest
            ],
        }
        (self.dist / f"{self.name}.build.json").write_text(
            json.dumps(figures, indent=2), encoding="utf-8"
        )
        print(f"bundle  {bundle}  {figures['bundle_mb']} MB in {figures['files']} files")
        if archive:
            print(f"archive {archive}  {figures['archive_mb']} MB")
        print(f"built in {figures['build_s']} s (PyInstaller {figures.get('pyinstaller_s', 0)} s)")
        return figures

    def build(self) -> dict[str, Any]:
        """Every step; returns the figures."""
        self.validate()
        print(f"building {self.name} from {self.station_dir}")
        stage = self.stage()
        bundle = self.pyinstaller(stage)
        archive: Path | None = None
        if sys.platform == "win32":
            if self.archive_wanted:
                archive = self.make_windows_installer(bundle)
        else:
            self.strip_interpreter(bundle)
            self.add_linux_files(bundle)
            if self.archive_wanted:
                archive = self.make_tarball(bundle)
        return self.report(bundle, archive)


def _app_version() -> str:
    from hmi import __version__

    return __version__


def _exe_name() -> str:
    return "gas-hmi.exe" if sys.platform == "win32" else "gas-hmi"


def _icon() -> str | None:
    """An .ico for the Windows executable when one was made (resources/icons/app.ico)."""
    ico = ROOT / "resources" / "icons" / "app.ico"
    return str(ico) if sys.platform == "win32" and ico.is_file() else None


def main(argv: list[str] | None = None) -> int:
    """Command line of the build."""
    p = argparse.ArgumentParser(
        prog="packaging/build.py", description="Build the gas-hmi bundle of one station."
    )
    p.add_argument(
        "station_dir", type=Path, help="station config folder, e.g. station_configs/demo_city_gate"
    )
    p.add_argument(
        "--version", default=_app_version(), help="bundle version (default: the application's)"
    )
    p.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    p.add_argument(
        "--work", type=Path, default=ROOT / "build", help="scratch folder (default build/)"
    )
    p.add_argument(
        "--cjk-font", type=Path, help="Noto Sans CJK font file to ship (default: the system's)"
    )
    p.add_argument(
        "--no-archive", action="store_true", help="bundle folder only: no tarball / installer"
    )
    args = p.parse_args(argv)
    builder = BundleBuilder(
        args.station_dir,
        args.version,
        args.dist,
        args.work,
        args.cjk_font,
        archive=not args.no_archive,
    )
    try:
        builder.build()
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
