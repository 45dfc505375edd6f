"""Station copies for the fleet demo and the dispatch tests: own id, edge node and uplink.

:func:`station_instance` rewrites a station folder's ``station.yaml`` so that one more
instance of the same station can run next to the first: another station id (and so
another MQTT client id and Sparkplug edge node), the uplink switched on towards the
given broker, an optional primary host (STATE gating) and keep-alive. Device ports are
shifted by ``port_offset`` and serial bus paths (the simulated RS-485 bus of the
regulator station) get the station id in their name, so several simulated copies can
serve on one machine. ``remote_write`` names tags that accept remote writes (the copy's
uplink then has ``remote_commands: true``); ``max_payload_kb`` caps its messages.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_PORT = re.compile(r"^(?P<pre>\s*port:\s*)(?P<port>\d+)", re.MULTILINE)
_ENDPOINT = re.compile(r"(?P<pre>endpoint:\s*\S+?://[^:/\s]+:)(?P<port>\d+)")
_SERIAL = re.compile(r"^(?P<pre>\s*serial_port:\s*)(?P<path>\S+)", re.MULTILINE)


def station_instance(
    src: Path,
    dest: Path,
    station_id: str,
    broker: tuple[str, int],
    *,
    name_en: str = "",
    name_zh: str = "",
    primary_host: str = "",
    keepalive: int = 10,
    port_offset: int = 0,
    exclude: tuple[str, ...] = (),
    mode: str = "sparkplug",
    remote_write: tuple[str, ...] = (),
    max_payload_kb: int = 0,
) -> Path:
    """Copy ``src`` to ``dest`` as station ``station_id`` forwarding to ``broker``."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", *exclude))
    for path in dest.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if "devices:" in text and port_offset:
            text = _PORT.sub(lambda m: f"{m['pre']}{int(m['port']) + port_offset}", text)
            text = _ENDPOINT.sub(lambda m: f"{m['pre']}{int(m['port']) + port_offset}", text)
        if "devices:" in text:
            text = _SERIAL.sub(lambda m: f"{m['pre']}{_own_bus(m['path'], station_id)}", text)
        for tag in remote_write:
            text = _allow_remote_write(text, tag)
        path.write_text(text, encoding="utf-8")
    station = dest / "station.yaml"
    text = station.read_text(encoding="utf-8")
    text = re.sub(
        r"^(station:\s*\n\s+id:\s*)\S+", rf"\g<1>{station_id}", text, count=1, flags=re.MULTILINE
    )
    if name_en or name_zh:
        text = re.sub(
            r"^(\s+name:\s*)\{.*\}",
            rf"\g<1>{{en: {name_en}, zh: {name_zh}}}",
            text,
            count=1,
            flags=re.MULTILINE,
        )
    host, port = broker
    uplink = (
        f"uplink:\n  enabled: true\n  mode: {mode}\n"
        f"  brokers:\n    - {{host: {host}, port: {port}}}\n"
        f"  group_id: gas-stations\n  edge_node: {station_id}\n  keepalive: {keepalive}\n"
        + (f"  primary_host: {primary_host}\n" if primary_host else "")
        + ("  remote_commands: true\n" if remote_write else "")
        + (f"  max_payload_kb: {max_payload_kb}\n" if max_payload_kb else "")
    )
    text = re.sub(
        r"^uplink:\n(?:[ \t]+.*\n|\n)*?(?=\S)", uplink + "\n", text, count=1, flags=re.MULTILINE
    )
    station.write_text(text, encoding="utf-8")
    return dest


def _own_bus(path: str, station_id: str) -> str:
    """The copy's own serial bus path: the station id in the file name, same folder."""
    p = Path(path)
    return str(p.with_name(f"{p.name}-{station_id}"))


def _allow_remote_write(text: str, tag: str) -> str:
    """Add ``remote_write: true`` to the tag ``tag`` of a tags file (its keys' indent)."""
    pattern = re.compile(rf"^(?P<dash>[ \t]*- )name:[ \t]*{re.escape(tag)}[ \t]*$", re.MULTILINE)
    return pattern.sub(
        lambda m: f"{m.group(0)}\n{' ' * len(m['dash'])}remote_write: true", text, count=1
    )
