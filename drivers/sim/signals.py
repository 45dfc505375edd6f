"""Generic signals for generated (benchmark) stations, evaluated for many points at once.

A point whose ``sim:`` is ``{signal: sine|noise|ramp|step|const, base, amp, period,
seed, phase, noise}`` gets its value from here instead of the station model (``noise``
adds uniform noise of that amplitude, new every model second, to any signal). Every signal is a
pure function of model time, so values are deterministic for a seed and 10,000
points cost a handful of numpy operations per refresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from drivers.sim.spec import SIGNAL_KINDS

_KIND_CODE = {k: i for i, k in enumerate(SIGNAL_KINDS)}
_TWO_PI = 2.0 * np.pi


def _hash01(x: np.ndarray) -> np.ndarray:
    """Cheap deterministic hash of float arrays to [0, 1) (classic sin-fract hash)."""
    y = np.sin(x * 12.9898 + 78.233) * 43758.5453
    return y - np.floor(y)


class SignalBank:
    """Values of many generic signals at a model time."""

    def __init__(self, sources: Sequence[Mapping[str, Any]], seed: int = 0) -> None:
        n = len(sources)
        self.n = n
        self.kind = np.empty(n, dtype=np.int8)
        self.base = np.empty(n)
        self.amp = np.empty(n)
        self.period = np.empty(n)
        self.phase = np.empty(n)
        self.key = np.empty(n)
        self.noise = np.zeros(n)
        for i, s in enumerate(sources):
            self.kind[i] = _KIND_CODE[str(s.get("signal", "const"))]
            self.base[i] = float(s.get("base", 0.0))
            self.amp[i] = float(s.get("amp", 0.0))
            self.period[i] = max(float(s.get("period", 60.0)), 1e-3)
            point_seed = float(s.get("seed", i))
            # phase spreads identical signals apart so a generated station does not move in lockstep
            self.phase[i] = (
                float(s["phase"])
                if "phase" in s
                else _hash01(np.array([point_seed + 0.37 * seed]))[0]
            )
            self.key[i] = point_seed * 1.618 + seed * 7.31
            self.noise[i] = float(s.get("noise", 0.0))
        self._noisy = np.flatnonzero(self.noise)
        self._masks = {code: np.flatnonzero(self.kind == code) for code in _KIND_CODE.values()}

    def values(self, t: float) -> np.ndarray:
        """Engineering values of every signal at model time ``t`` (seconds)."""
        out = self.base.copy()
        idx = self._masks[_KIND_CODE["sine"]]
        if idx.size:
            out[idx] += self.amp[idx] * np.sin(_TWO_PI * (t / self.period[idx] + self.phase[idx]))
        idx = self._masks[_KIND_CODE["ramp"]]
        if idx.size:
            frac = t / self.period[idx] + self.phase[idx]
            out[idx] += self.amp[idx] * (frac - np.floor(frac))
        idx = self._masks[_KIND_CODE["step"]]
        if idx.size:
            frac = t / self.period[idx] + self.phase[idx]
            out[idx] += self.amp[idx] * ((frac - np.floor(frac)) >= 0.5)
        idx = self._masks[_KIND_CODE["noise"]]
        if idx.size:
            # a new uniform value in [-amp, amp] every second of model time
            u = _hash01(self.key[idx] + np.floor(t) * 0.6180339887)
            out[idx] += self.amp[idx] * (2.0 * u - 1.0)
        idx = self._noisy
        if idx.size:
            u = _hash01(self.key[idx] * 0.7071 + np.floor(t) * 0.4142135623 + 0.5)
            out[idx] += self.noise[idx] * (2.0 * u - 1.0)
        return out
