"""Screens are config: ``gas-hmi check`` rejects a screen that binds a tag the station lacks.

Each test copies the demo station and the repository's screens into ``tmp_path`` (the
station's own ``screens/`` folder wins over the shared one) and runs the real command line
in a child process, as a station engineer would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hmi import paths
from hmi.config import ConfigError, load_station

DEMO = paths.station_configs_dir() / "demo_city_gate"


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A copy of the demo station with its own copy of the screens."""
    d = tmp_path / "station"
    shutil.copytree(DEMO, d)
    shutil.copytree(paths.screens_dir(), d / "screens")
    return d


def check(station_dir: Path) -> subprocess.CompletedProcess[str]:
    """``gas-hmi check`` in a child process, run from the station's parent folder."""
    return subprocess.run(
        [sys.executable, "-m", "hmi", "check", station_dir.name],
        cwd=station_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of ``path`` containing ``needle``."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def unknown_tag(line: int, tag: str) -> str:
    """The line ``gas-hmi check`` prints for the gate-door binding of an unknown tag."""
    return (
        f"station/screens/city_gate.yaml:{line}: bindings.V_door_station_gate.tag: "
        f"unknown tag {tag!r}"
    )


def test_the_copied_demo_station_passes(station):
    res = check(station)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 screens" in res.stdout


def test_a_screen_binding_an_unknown_tag_fails_the_check(station):
    screen = station / "screens" / "city_gate.yaml"
    text = screen.read_text(encoding="utf-8")
    assert "tag: door.station_gate" in text
    screen.write_text(
        text.replace("tag: door.station_gate", "tag: door.station_gat"), encoding="utf-8"
    )
    line = line_of(screen, "tag: door.station_gat")
    res = check(station)
    assert res.returncode == 1
    assert unknown_tag(line, "door.station_gat") in res.stdout.splitlines()
    assert "Traceback" not in res.stdout + res.stderr


def test_a_tag_removed_from_the_station_but_still_bound_fails_the_check(station):
    tags = station / "tags_utilities.yaml"
    lines = tags.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, s in enumerate(lines) if s.startswith("  - name: door.station_gate"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("  - name: ")), len(lines)
    )
    tags.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")
    screen = station / "screens" / "city_gate.yaml"
    line = line_of(screen, "tag: door.station_gate")
    res = check(station)
    assert res.returncode == 1
    assert unknown_tag(line, "door.station_gate") in res.stdout.splitlines()


def test_a_binding_of_a_missing_svg_element_and_a_bad_option_are_located(station):
    screen = station / "screens" / "overview.yaml"
    text = screen.read_text(encoding="utf-8")
    assert "bindings:\n" in text
    text = text.replace(
        "bindings:\n",
        "bindings:\n  NO_SUCH_ELEMENT: {kind: value, tag: outlet.pressure}\n"
        "  ALSO_MISSING: {kind: pipe, tag: outlet.flow, colour: red}\n",
        1,
    )
    screen.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_station(station)
    shown = [str(p) for p in exc.value.problems]
    first = line_of(screen, "NO_SUCH_ELEMENT")
    second = line_of(screen, "ALSO_MISSING")
    assert any(
        s.endswith(
            f"overview.yaml:{first}: bindings.NO_SUCH_ELEMENT: "
            "no element with id 'NO_SUCH_ELEMENT' in the SVG"
        )
        for s in shown
    ), shown
    assert any(
        s.endswith(f"overview.yaml:{second}: bindings.ALSO_MISSING.colour: unknown key")
        for s in shown
    ), shown


def test_a_drawn_label_that_differs_from_the_tag_label_fails_the_check(station):
    svg = station / "screens" / "city_gate.svg"
    text = svg.read_text(encoding="utf-8")
    assert ">inlet/ESD</text>" in text
    svg.write_text(text.replace(">inlet/ESD</text>", ">Reg. room 1</text>"), encoding="utf-8")
    line = line_of(station / "screens" / "city_gate.yaml", "L_gd01:")
    res = check(station)
    assert res.returncode == 1
    wanted = (
        f"station/screens/city_gate.yaml:{line}: labels.L_gd01: the SVG says 'Reg. room 1' "
        "but tag gd01.lel is 'inlet/ESD'"
    )
    assert any(s.startswith(wanted) for s in res.stdout.splitlines()), res.stdout
