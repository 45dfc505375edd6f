"""Station copies for the fleet demo and the dispatch tests: own id, edge node and uplink.

:func:`station_instance` rewrites a station folder's ``station.yaml`` so that one more
instance of the same station can run next to the first: another station id (and so
another MQTT client id and Sparkplug edge node), the uplink switched on towards the
given broker, an optional primary host (STATE gating) and keep-alive. Device ports are
shifted by ``port_offset`` so several simulated copies can serve on one machine.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_PORT = re.compile(r"^(?P<pre>\s*port:\s*)(?P<port>\d+)", re.MULTILINE)
_ENDPOINT = re.compile(r"(?P<pre>endpoint:\s*\S+?://[^:/\s]+:)(?P<port>\d+)")


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
) -> Path:
    """Copy ``src`` to ``dest`` as station ``station_id`` forwarding to ``broker``."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", *exclude))
    if port_offset:
        for path in dest.glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            if "devices:" not in text:
                continue
            text = _PORT.sub(lambda m: f"{m['pre']}{int(m['port']) + port_offset}", text)
            text = _ENDPOINT.sub(lambda m: f"{m['pre']}{int(m['port']) + port_offset}", text)
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
    )
    text = re.sub(
        r"^uplink:\n(?:[ \t]+.*\n|\n)*?(?=\S)", uplink + "\n", text, count=1, flags=re.MULTILINE
    )
    station.write_text(text, encoding="utf-8")
    return dest
