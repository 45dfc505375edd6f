"""Test helper: copies of the demo station on free loopback ports.

Every test that serves or polls the demo station works on a copy whose device ports
are free right now, so tests never collide with a running demo or with each other.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
DEMO_STATION = ROOT / "station_configs" / "demo_city_gate"

# "    port: 15020" (Modbus) and "endpoint: opc.tcp://127.0.0.1:15028..." (OPC UA)
_PORT_LINE = re.compile(r"^(?P<pre>\s*port:\s*)(?P<port>\d+)(?P<post>\s*(#.*)?)$", re.MULTILINE)
_ENDPOINT = re.compile(r"(?P<pre>endpoint:\s*\S+?://[^:/\s]+:)(?P<port>\d+)")
_DEVICE_ID = re.compile(r"^\s*-\s*id:\s*(?P<id>[A-Za-z][\w\-]*)\s*$", re.MULTILINE)


def demo_station_copy(
    tmp_path: Path, ports: dict[str, int] | None = None, exclude: tuple[str, ...] = ()
) -> tuple[Path, dict[str, int]]:
    """Copy the demo station into ``tmp_path/demo_city_gate`` with fresh ports.

    Returns (station dir, {device id: port}). ``ports`` pins chosen devices to given
    ports; every other device gets a free loopback port. ``exclude`` names YAML files
    to leave out (e.g. ``("opcua.yaml",)`` for a Modbus-only station). Only the
    ``devices:`` sections' ``port:`` and OPC UA ``endpoint:`` lines are rewritten.
    """
    dest = tmp_path / DEMO_STATION.name
    shutil.copytree(DEMO_STATION, dest, ignore=shutil.ignore_patterns("__pycache__", *exclude))
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
            if current is not None and current not in chosen:
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
