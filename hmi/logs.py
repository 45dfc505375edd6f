"""Logging set-up: standard error always, plus a rotating file in the station's data folder.

``gas-hmi`` calls :func:`setup_logging` once at start. A command that runs a station
(``run``, ``demo``) calls :func:`add_file_log` as soon as it knows the data folder, so
that ``<data_dir>/logs/gas-hmi.log`` keeps the last few megabytes of the station's log
(rotated, never growing without bound) even when nobody reads standard error — the
systemd journal gets standard error as well. Uncaught exceptions, on any thread, go to
the same handlers before the process dies, so a crash leaves its reason in the file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
from pathlib import Path
from types import TracebackType

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE = "gas-hmi.log"
#: rotation: 5 files of 5 MB keep days of normal operation and bound the disk use to 30 MB
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5

log = logging.getLogger(__name__)

_STDERR_MARK = "_gas_hmi_stderr"
_FILE_MARK = "_gas_hmi_file"


def setup_logging(verbose: bool = False) -> None:
    """Root logger at INFO (DEBUG with ``verbose``) writing to standard error; idempotent.

    ``GAS_HMI_LOG_LEVEL`` (DEBUG, INFO, WARNING...) overrides the level, e.g. in a
    service unit.
    """
    root = logging.getLogger()
    level_name = os.environ.get("GAS_HMI_LOG_LEVEL", "").upper()
    level = logging.DEBUG if verbose else logging.INFO
    if level_name and isinstance(logging.getLevelName(level_name), int):
        level = logging.getLevelName(level_name)
    root.setLevel(level)
    # like logging.basicConfig: a host that set up logging already (a test runner) keeps its own
    if not root.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        setattr(handler, _STDERR_MARK, True)
        root.addHandler(handler)
    _install_excepthooks()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (it may be replaced after set-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def add_file_log(
    data_dir: str | os.PathLike[str], max_bytes: int = MAX_BYTES, backup_count: int = BACKUP_COUNT
) -> Path | None:
    """Also log to ``<data_dir>/logs/gas-hmi.log``, rotated at ``max_bytes`` keeping
    ``backup_count`` old files. Returns the file, or None (after a warning on standard
    error) when the folder cannot be written: a full or read-only disk must not stop
    the station. Calling it again for the same file does nothing; for another file it
    replaces the previous one.
    """
    path = (Path(data_dir) / "logs" / LOG_FILE).resolve()
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _FILE_MARK, None) is not None:
            if getattr(h, _FILE_MARK) == str(path):
                return path
            root.removeHandler(h)
            h.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("cannot write the log file %s (%s): logging to standard error only", path, exc)
        return None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    setattr(handler, _FILE_MARK, str(path))
    root.addHandler(handler)
    log.debug("logging to %s", path)
    return path


def remove_file_log() -> None:
    """Stop logging to the data folder (closes the file)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _FILE_MARK, None) is not None:
            root.removeHandler(h)
            h.close()


def file_log_path() -> Path | None:
    """The log file in use, if any."""
    for h in logging.getLogger().handlers:
        mark = getattr(h, _FILE_MARK, None)
        if mark is not None:
            return Path(mark)
    return None


_hooks_installed = False


def _install_excepthooks() -> None:
    """Log uncaught exceptions (main thread and worker threads) before the default hooks run."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook
    previous_thread = threading.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if not issubclass(exc_type, KeyboardInterrupt):
            log.critical("uncaught exception, the program stops", exc_info=(exc_type, exc, tb))
            _flush_files()
            return  # the handler above already printed the traceback on standard error
        previous(exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        log.critical(
            "uncaught exception in thread %s",
            name,
            exc_info=args.exc_value if args.exc_value is not None else False,
        )
        _flush_files()
        if previous_thread is not threading.__excepthook__:
            previous_thread(args)

    sys.excepthook = hook
    threading.excepthook = thread_hook


def _flush_files() -> None:
    for h in logging.getLogger().handlers:
        try:
            h.flush()
        except Exception:  # noqa: BLE001 - a broken handler must not hide the crash
            pass
