"""Test helper: copies of the demo stations on free loopback ports and private serial paths.

Every test that serves or polls a demo station works on a copy whose device ports
are free right now and whose RS-485 bus paths lie in the test's own directory, so tests
never collide with a running demo or with each other.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
DEMO_STATION = ROOT / "station_configs" / "demo_city_gate"
REGULATOR_STATION = ROOT / "station_configs" / "demo_regulator_station"

# "    port: 15020" (Modbus) and "endpoint: opc.tcp://127.0.0.1:15028..." (OPC UA)
_PORT_LINE = re.compile(r"^(?P<pre>\s*port:\s*)(?P<port>\d+)(?P<post>\s*(#.*)?)$", re.MULTILINE)
_ENDPOINT = re.compile(r"(?P<pre>endpoint:\s*\S+?://[^:/\s]+:)(?P<port>\d+)")
_SERIAL_LINE = re.compile(r"^(?P<pre>\s*serial_port:\s*)(?P<path>\S+)(?P<post>\s*(#.*)?)$")
_DEVICE_ID = re.compile(r"^\s*-\s*id:\s*(?P<id>[A-Za-z][\w\-]*)\s*$", re.MULTILINE)


def demo_station_copy(
    tmp_path: Path,
    ports: dict[str, int] | None = None,
    exclude: tuple[str, ...] = (),
    station: Path = DEMO_STATION,
) -> tuple[Path, dict[str, int]]:
    """Copy a demo station (the city gate unless ``station`` says) into ``tmp_path/<name>``.

    Returns (station dir, {device id: port}). ``ports`` pins chosen devices to given
    ports; every other device gets a free loopback port. ``exclude`` names YAML files
    to leave out (e.g. ``("opcua.yaml",)`` for a Modbus-only station). Only the
    ``devices:`` sections' ``port:``, OPC UA ``endpoint:`` and ``serial_port:`` lines are
    rewritten; a serial path keeps its file name and moves into ``tmp_path``.
    """
    dest = tmp_path / station.name
    shutil.copytree(station, dest, ignore=shutil.ignore_patterns("__pycache__", *exclude))
    chosen: dict[str, int] = {}
    taken: set[int] = set()

    def port_for(device_id: str) -> int:
        if ports and device_id in ports:
            port = ports[device_id]
        else:
            port = free_port()
            while (
                port in taken
            ):  # free_port() may hand the same port out twice before anyone binds it
                port = free_port()
        taken.add(port)
        chosen[device_id] = port
        return port

    for path in sorted(dest.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "devices:" not in text:
            continue
        out: list[str] = []
        current: str | None = None
        for line in text.splitlines(keepends=True):
            m = _DEVICE_ID.match(line)
            if m:
                current = m.group("id")
            sm = _SERIAL_LINE.match(line.rstrip("\n"))
            if current is not None and sm:
                bus = tmp_path / Path(sm.group("path")).name
                line = f"{sm.group('pre')}{bus}{sm.group('post')}\n"
            elif current is not None and current not in chosen:
                pm = _PORT_LINE.match(line.rstrip("\n"))
                em = _ENDPOINT.search(line)
                if pm:
                    line = f"{pm.group('pre')}{port_for(current)}{pm.group('post')}\n"
                elif em:
                    line = (
                        line[: em.start("port")] + str(port_for(current)) + line[em.end("port") :]
                    )
            out.append(line)
        path.write_text("".join(out), encoding="utf-8")
    return dest, chosen


def station_of_screen(screen: str) -> Path:
    """The demo station whose ``screens.yaml`` uses ``screen`` (the first one, by name)."""
    import yaml

    for folder in sorted((ROOT / "station_configs").iterdir()):
        path = folder / "screens.yaml"
        if not path.is_file():
            continue
        refs = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("screens") or []
        if any(r.get("source", r.get("id")) == screen for r in refs):
            return folder
    raise LookupError(f"no demo station uses screen {screen!r}")
