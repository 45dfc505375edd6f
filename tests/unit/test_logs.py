"""Log set-up: rotating file in <data_dir>/logs, standard error, crashes end up in the file."""

from __future__ import annotations

import logging
import logging.handlers
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hmi import logs

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def root_logger():
    """The root logger's handlers and level, restored after the test (the file is closed)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    logs.remove_file_log()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_file_log_rotates_and_keeps_a_bounded_number_of_files(tmp_path, root_logger):
    root_logger.setLevel(logging.INFO)
    path = logs.add_file_log(tmp_path, max_bytes=2000, backup_count=2)
    assert path == (tmp_path / "logs" / "gas-hmi.log").resolve()
    log = logging.getLogger("hmi.test")
    for i in range(200):
        log.info("line %d of the station log, 中文 too", i)
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["gas-hmi.log", "gas-hmi.log.1", "gas-hmi.log.2"]
    assert all(p.stat().st_size <= 2200 for p in (tmp_path / "logs").iterdir())
    text = (tmp_path / "logs" / "gas-hmi.log").read_text(encoding="utf-8")
    assert "line 199 of the station log, 中文 too" in text
    assert " INFO hmi.test: " in text


def test_same_file_twice_is_one_handler_another_file_replaces_it(tmp_path, root_logger):
    a = logs.add_file_log(tmp_path / "a")
    assert logs.add_file_log(tmp_path / "a") == a
    marked = [
        h for h in root_logger.handlers if isinstance(h, logging.handlers.RotatingFileHandler)
    ]
    assert len(marked) == 1
    b = logs.add_file_log(tmp_path / "b")
    assert logs.file_log_path() == b != a
    assert (
        len(
            [h for h in root_logger.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
        )
        == 1
    )
    logs.remove_file_log()
    assert logs.file_log_path() is None


def test_unwritable_log_folder_warns_and_goes_on(tmp_path, root_logger, caplog):
    (tmp_path / "logs").write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="hmi.logs"):
        assert logs.add_file_log(tmp_path) is None
    assert "cannot write the log file" in caplog.text
    assert logs.file_log_path() is None


CRASH = """
import logging, sys, threading
from hmi import logs
logs.setup_logging()
logs.add_file_log(sys.argv[1])
logging.getLogger("hmi.x").info("started")
t = threading.Thread(target=lambda: 1 / 0, name="worker")
t.start(); t.join()
raise RuntimeError("boom at the end")
"""


def test_uncaught_exceptions_of_any_thread_reach_the_file_and_stderr(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", CRASH, str(tmp_path)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert r.returncode == 1
    text = (tmp_path / "logs" / "gas-hmi.log").read_text(encoding="utf-8")
    assert "INFO hmi.x: started" in text
    assert (
        "CRITICAL hmi.logs: uncaught exception in thread worker" in text
        and "ZeroDivisionError" in text
    )
    assert (
        "CRITICAL hmi.logs: uncaught exception, the program stops" in text
        and "RuntimeError: boom at the end" in text
    )
    assert "RuntimeError: boom at the end" in r.stderr  # the operator's console sees it too


def test_level_from_the_environment(tmp_path):
    code = "from hmi import logs; import logging; logs.setup_logging(); print(logging.getLogger().level)"
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**ENV, "GAS_HMI_LOG_LEVEL": "warning"},
    )
    assert r.stdout.strip() == str(logging.WARNING)
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**ENV, "GAS_HMI_LOG_LEVEL": "nonsense"},
    )
    assert r.stdout.strip() == str(logging.INFO)
