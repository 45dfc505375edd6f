"""Suite-wide fixtures: offscreen Qt, an explicit keyring backend, no leaked threads."""

from __future__ import annotations

import os
import threading
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# keyring has no backend on a headless box: pick one explicitly (tests only).
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Fail a test that leaves a non-daemon or named worker thread running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        extra = [
            t
            for t in threading.enumerate()
            if t not in before
            and t.is_alive()
            and not t.name.startswith(
                ("asyncio_", "ThreadPoolExecutor", "Dummy", "pydevd", "QDBus")
            )
        ]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {[t.name for t in extra]}"


@pytest.fixture(autouse=True)
def _restore_keyring():
    """A test (or code under test, like the demo) may switch keyring backends: undo it."""
    import keyring

    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@pytest.fixture
def keyring_file(tmp_path, monkeypatch):
    """A fresh file keyring in tmp_path (the real keyring API with a test-only backend)."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    xdg = tmp_path / "xdg"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    kr = PlaintextKeyring()
    (xdg / "python_keyring").mkdir(parents=True, exist_ok=True)
    kr.file_path = str(xdg / "python_keyring" / "keyring_pass.cfg")
    keyring.set_keyring(kr)
    return xdg
