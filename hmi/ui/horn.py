"""The audible alarm horn: repeats while the alarm engine says it sounds, until silenced.

Qt Multimedia (QSoundEffect) is not part of PySide6-Essentials; when it is importable (a
full PySide6 install) the horn plays a generated two-tone WAV, otherwise it rings the
system bell (QApplication.beep). Critical alarms repeat faster.
"""

from __future__ import annotations

import logging
import math
import struct
import tempfile
import wave
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

PERIOD_MS = {1: 600, 2: 1000, 3: 1500, 4: 2000}


def write_horn_wav(path: Path, seconds: float = 0.35, rate: int = 22050) -> Path:
    """A short two-tone horn as 16-bit mono WAV."""
    n = int(seconds * rate)
    frames = bytearray()
    for i in range(n):
        f = 880.0 if i < n // 2 else 660.0
        env = min(1.0, i / 200.0, (n - i) / 200.0)
        frames += struct.pack("<h", int(12000 * env * math.sin(2 * math.pi * f * i / rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


class Horn(QObject):
    """Sounds while ``set_state(True, priority)``; the refresh timer feeds it the annunciation."""

    def __init__(self, parent: QObject | None = None, enabled: bool = True) -> None:
        super().__init__(parent)
        self.enabled = enabled
        self.sounding = False
        self.priority = 4
        self.rings = 0  # how many times it sounded (tests, diagnostics)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._ring)
        self._effect: Any = None
        self.backend = "beep"
        try:  # full PySide6 only
            from PySide6.QtMultimedia import QSoundEffect  # type: ignore[import-not-found,unused-ignore]

            wav = write_horn_wav(Path(tempfile.gettempdir()) / "gas-hmi-horn.wav")
            self._effect = QSoundEffect(self)
            self._effect.setSource(QUrl.fromLocalFile(str(wav)))
            self.backend = "QSoundEffect"
        except ImportError:
            pass
        log.info("alarm horn: %s", self.backend)

    def on_annunciation(self, ann: Any) -> None:
        """Follow the engine's annunciation (horn on/off, highest priority sounding)."""
        self.set_state(bool(getattr(ann, "horn", False)), int(getattr(ann, "priority", None) or 4))

    def set_state(self, on: bool, priority: int = 4) -> None:
        """Start/stop ringing; the period follows the priority."""
        if on == self.sounding and priority == self.priority:
            return
        self.sounding, self.priority = on, priority
        if on and self.enabled:
            self._timer.start(PERIOD_MS.get(priority, 1500))
            self._ring()
        else:
            self._timer.stop()

    def _ring(self) -> None:
        self.rings += 1
        if self._effect is not None:
            self._effect.play()
        else:
            QApplication.beep()
