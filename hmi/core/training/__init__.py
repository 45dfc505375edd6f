"""Training drills on the simulated station (Qt-free): catalog, recorder service, report.

See docs/TRAINING.md. :class:`TrainingService` starts a simulator scenario as a drill,
records the alarm events and the operators' audited actions, and writes the drill report
(:func:`build_report`) as JSON and PDF into ``<data dir>/training/``.
"""

from hmi.core.training.catalog import DrillScenario, drill_scenario, drill_scenarios
from hmi.core.training.report import DrillInfo, build_report, fmt_seconds
from hmi.core.training.service import (
    NOT_SIMULATED,
    DrillResult,
    TrainingError,
    TrainingService,
    in_training,
    training_periods,
)

__all__ = [
    "NOT_SIMULATED",
    "DrillInfo",
    "DrillResult",
    "DrillScenario",
    "TrainingError",
    "TrainingService",
    "build_report",
    "drill_scenario",
    "drill_scenarios",
    "fmt_seconds",
    "in_training",
    "training_periods",
]
