"""The ``screenshot`` command is registered and rejects bad input with a clear message."""

from __future__ import annotations

import pytest

from hmi.cli import build_parser, main


def test_screenshot_command_is_registered():
    parser = build_parser()
    args = parser.parse_args(
        [
            "screenshot",
            "station",
            "--screen",
            "faceplate:outlet.pressure",
            "--out",
            "x.png",
            "--lang",
            "en",
        ]
    )
    assert (
        args.screen == "faceplate:outlet.pressure"
        and args.lang == "en"
        and args.size == "1920x1080"
    )


def test_bad_size_is_a_message_not_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "screenshot",
                "station_configs/demo_city_gate",
                "--out",
                str(tmp_path / "x.png"),
                "--size",
                "big",
            ]
        )
    assert "--size must look like 1920x1080" in str(exc.value)


def test_broken_station_dir_lists_problems(tmp_path, capsys):
    (tmp_path / "station.yaml").write_text("station: {id: 1bad}\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["screenshot", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert "station.yaml" in capsys.readouterr().err
