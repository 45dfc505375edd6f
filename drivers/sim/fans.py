"""Emergency exhaust fans of the heater and odorizer rooms, as the station PLC runs them.

A fan starts on its room detector's level 1 (GB/T 50493: level 1 starts the room's exhaust
fan) and runs on for :data:`RUN_ON` seconds after the gas has cleared. The PLC compares the
start command with the fan's running feedback and sets a failure bit when the fan has not
started within :data:`START_TIMEOUT` seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drivers.sim.model import StationModel

#: room -> detector number watching it
ROOMS = {"heater_room": 4, "odorizer_room": 7}
LEVEL1 = 20.0  # %LEL
RUN_ON = 300.0  # s the fan keeps running after the level has cleared
START_TIMEOUT = 10.0  # s from the start command to the running feedback


class ExhaustFans:
    """The two room fans: auto start on level 1, running feedback, failure to start."""

    def __init__(self, m: StationModel) -> None:
        self.m = m
        self.run_on = dict.fromkeys(ROOMS, 0.0)
        self.waiting = dict.fromkeys(ROOMS, 0.0)

    def step(self, dt: float) -> None:
        """Advance one step."""
        v, f = self.m.v, self.m.faults
        for room, det in ROOMS.items():
            lel = v.get(f"gd{det:02d}.lel", 0.0)
            if lel >= LEVEL1 and not v.get(f"gd{det:02d}.fault", 0.0):
                self.run_on[room] = RUN_ON
            else:
                self.run_on[room] = max(self.run_on[room] - dt, 0.0)
            cmd = self.run_on[room] > 0.0
            running = cmd and room not in f.fan_fail
            self.waiting[room] = self.waiting[room] + dt if cmd and not running else 0.0
            v[f"{room}.fan.cmd"] = float(cmd)
            v[f"{room}.fan.running"] = float(running)
            v[f"{room}.fan.fail"] = float(self.waiting[room] >= START_TIMEOUT)
