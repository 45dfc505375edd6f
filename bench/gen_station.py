"""Generate a large synthetic station config (for the scale benchmarks).

``generate_station(dir, n_tags=10_000, n_devices=10)`` writes a valid station directory:
``n_devices`` Modbus TCP devices on loopback, each with float32 tags packed in holding
registers, generic simulator signals (sine + noise, so values change every second), a
history deadband, and an H alarm on every tenth tag. Used by bench_acquisition and the GUI
responsiveness benchmark; the same station the simulator then serves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def generate_station(
    out_dir: Path,
    n_tags: int = 10_000,
    n_devices: int = 10,
    ports: list[int] | None = None,
    period: float = 1.0,
    alarm_every: int = 10,
    historian: dict[str, float] | None = None,
) -> Path:
    """Write the station config into ``out_dir``; return it (``historian``: that section's settings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ports = ports or [16000 + i for i in range(n_devices)]
    station: dict[str, object] = {
        "station": {
            "id": f"bench_{n_tags}",
            "name": {"en": f"Benchmark station ({n_tags} tags)", "zh": f"基准测试站（{n_tags}点）"},
        }
    }
    if historian:
        station["historian"] = dict(historian)
    devices = {
        "devices": [
            {
                "id": f"dev{d:02d}",
                "protocol": "modbus_tcp",
                "host": "127.0.0.1",
                "port": ports[d],
                "unit_id": 1,
                "timeout": 2.0,
                "poll_groups": {"default": period},
            }
            for d in range(n_devices)
        ]
    }
    tags = []
    per_dev = -(-n_tags // n_devices)
    for i in range(n_tags):
        d, k = divmod(i, per_dev)
        tag = {
            "name": f"area{d:02d}.pt{k:05d}",
            "device": f"dev{d:02d}",
            "address": f"hr:{2 * k}:f32",
            "unit": "kPa",
            "range": [0, 1000],
            "deadband": 0.05,
            "history": {"mode": "on_change", "deadband": 0.5, "max_interval": 60},
            "label": {"en": f"Point {i}", "zh": f"测点 {i}"},
            "sim": {
                "signal": "sine",
                "base": 500.0,
                "amp": 100.0,
                "period": 300.0 + (i % 97),
                "noise": 0.5,
                "seed": i,
            },
        }
        if alarm_every and i % alarm_every == 0:
            tag["alarms"] = [{"kind": "H", "limit": 590.0, "priority": 4, "deadband": 2.0}]
        tags.append(tag)
    (out_dir / "station.yaml").write_text(
        yaml.safe_dump(station, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    (out_dir / "devices.yaml").write_text(
        yaml.safe_dump(devices, sort_keys=False), encoding="utf-8"
    )
    (out_dir / "tags.yaml").write_text(
        yaml.dump({"tags": tags}, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return out_dir


def main() -> None:
    """CLI: python -m bench.gen_station OUT [--tags N] [--devices M]."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--tags", type=int, default=10_000)
    ap.add_argument("--devices", type=int, default=10)
    a = ap.parse_args()
    print(generate_station(Path(a.out), a.tags, a.devices))


if __name__ == "__main__":
    main()
