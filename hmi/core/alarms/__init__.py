"""Alarm management: ISA-18.2 / OPC UA Part 9 alarm states, journal, shelving, horn, metrics.

The package is Qt-free. :class:`AlarmEngine` is the entry point; see docs/ALARMS.md.
"""

from hmi.core.alarms.engine import AlarmEngine
from hmi.core.alarms.journal import AlarmStoreError
from hmi.core.alarms.model import AlarmState, AlarmView, Annunciation, OpResult

__all__ = ["AlarmEngine", "AlarmStoreError", "AlarmState", "AlarmView", "Annunciation", "OpResult"]
