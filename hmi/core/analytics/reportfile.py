"""Render a daily metering report (see :mod:`.metering`) to CSV, JSON or PDF.

The PDF is made with fpdf2 and embeds a subset of a CJK font so that Chinese renders
on any viewer. The font is found with ``fc-list`` (Noto Sans CJK / Source Han Sans /
WenQuanYi on Linux), in the usual Windows font folder (Microsoft YaHei, SimHei), or
named by the environment variable ``GAS_HMI_REPORT_FONT``; when none is found,
:class:`FontMissingError` says what to install.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

FONT_ENV = "GAS_HMI_REPORT_FONT"
_PREFERRED = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)
_WINDOWS = ("msyh.ttc", "msyh.ttf", "simhei.ttf", "simsun.ttc")


class ReportError(Exception):
    """A report file cannot be written (the message says why)."""


class FontMissingError(ReportError):
    """No font with Chinese glyphs was found for the PDF."""


def find_cjk_font() -> tuple[str, int]:
    """(font file, index in a .ttc collection) of a font with Chinese glyphs."""
    env = os.environ.get(FONT_ENV, "")
    if env:
        path, _, idx = env.partition("#")
        if not Path(path).is_file():
            raise FontMissingError(f"{FONT_ENV}={env!r}: no such font file")
        return path, int(idx or 0)
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(
                ["fc-list", "-f", "%{file}|%{index}|%{family}|%{style}\n", ":lang=zh"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        found: list[tuple[int, str, int]] = []
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) < 4 or not parts[0].lower().endswith((".ttf", ".ttc", ".otf")):
                continue
            families = parts[2].split(",")
            style = parts[3].lower()
            rank = next((i for i, f in enumerate(_PREFERRED) if f in families), len(_PREFERRED))
            regular = "regular" in style or "book" in style or style in ("", "normal")
            found.append((rank * 2 + (0 if regular else 1), parts[0], int(parts[1] or 0)))
        if found:
            found.sort()
            return found[0][1], found[0][2]
    windir = Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts"
    for name in _WINDOWS:
        if (windir / name).is_file():
            return str(windir / name), 0
    raise FontMissingError(
        "no font with Chinese glyphs found for the PDF report: install fonts-noto-cjk "
        f"(Debian/Ubuntu) or set {FONT_ENV}=/path/to/font.ttc"
    )


def write_json(report: dict[str, Any], path: Path) -> None:
    """The report as indented UTF-8 JSON."""
    _write(path, lambda f: json.dump(report, f, ensure_ascii=False, indent=1), newline=None)


def write_csv(report: dict[str, Any], path: Path) -> None:
    """The report as CSV (UTF-8 with BOM, so spreadsheet programs show Chinese correctly)."""

    def body(f: Any) -> None:
        w = csv.writer(f)
        st = report["station"]
        w.writerow(["station", st["id"], st["name"]["zh"], st["name"]["en"]])
        w.writerow(
            [
                "date",
                report["date"],
                "timezone",
                st["timezone"],
                "complete",
                int(report["complete"]),
            ]
        )
        w.writerow(["base conditions", "101.325 kPa", "20 °C", "volumes in Sm3 (not 0 °C Nm3)"])
        gd = report.get("gas_day") or {}
        if gd:
            w.writerow(["gas day", gd["from"], gd["to"], f"starts {gd['start']}"])
        w.writerow([])
        meters = report["meters"]
        head = ["hour"]
        for m in meters:
            head += [f"{m['id']} volume Sm3", f"{m['id']} pressure MPa", f"{m['id']} temperature C"]
        w.writerow(head + ["station energy GJ", "station volume Sm3", "estimated"])
        for h in report["hours"]:
            row: list[Any] = [h["label"]]
            for m in meters:
                mh = h["meters"][m["id"]]
                row += [_cell(mh["volume"]), _cell(mh["pressure"]), _cell(mh["temperature"])]
            w.writerow(
                row + [_cell(h.get("station_energy")), _cell(h["station"]), int(h["estimated"])]
            )
        w.writerow(
            ["total"]
            + [c for m in meters for c in (_cell(m["volume"]), "", "")]
            + [_cell(report.get("station_energy")), _cell(report["station_volume"]), ""]
        )
        w.writerow([])
        w.writerow(
            [
                "meter",
                "volume Sm3",
                "total start",
                "total end",
                "rollovers",
                "missing hours",
                "estimated hours",
                "flow min",
                "flow avg",
                "flow max",
                "P min",
                "P avg",
                "P max",
                "T min",
                "T avg",
                "T max",
            ]
        )
        for m in meters:
            row = [
                m["id"],
                _cell(m["volume"]),
                _cell(m["total_start"]),
                _cell(m["total_end"]),
                m["rollovers"],
                m["missing_hours"],
                m["estimated_hours"],
            ]
            for key in ("flow", "pressure", "temperature"):
                s = m[key] or {}
                row += [_cell(s.get("min")), _cell(s.get("avg")), _cell(s.get("max"))]
            w.writerow(row)
        a = report.get("alarms")
        if a and "raised" in a:
            w.writerow([])
            w.writerow(
                ["alarms raised", a["raised"], "acknowledged", a["acknowledged"]]
                + [f"priority {p}: {n}" for p, n in a["by_priority"].items()]
            )
            for t in a["top"]:
                w.writerow(
                    [
                        "alarm",
                        t["alarm_id"],
                        t["count"],
                        t["priority"],
                        t["message"]["zh"],
                        t["message"]["en"],
                    ]
                )

    _write(path, body, encoding="utf-8-sig")


def _cell(v: Any) -> Any:
    return "" if v is None else v


def _write(path: Path, body: Any, encoding: str = "utf-8", newline: str | None = "") -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding=encoding, newline=newline) as f:
            body(f)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_report(report: dict[str, Any], path: Path, lang: str = "zh_CN") -> str:
    """Write ``report`` in the format of ``path``'s suffix (.pdf, .csv, .json); returns the format."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        write_csv(report, path)
    elif suffix == ".json":
        write_json(report, path)
    elif suffix == ".pdf":
        from hmi.core.analytics.reportpdf import write_pdf

        write_pdf(report, path, lang)
    else:
        raise ReportError(
            f"{path}: unknown report format {suffix or '(none)'} (use .pdf, .csv or .json)"
        )
    return suffix[1:]
