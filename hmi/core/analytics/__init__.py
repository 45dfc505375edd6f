"""Station analytics from the station's own history, offline: send-out forecast, early
warnings, metering reports and edge health. Qt-free; see docs/ANALYTICS.md.

:class:`AnalyticsService` runs it all in the background of a running station;
the building blocks (:class:`WarningEngine`, :class:`SendOutForecaster`,
:class:`MeteringReports`) also work on a data directory alone (``gas-hmi report``).
"""

from hmi.core.analytics.service import AnalyticsService
from hmi.core.analytics.warnings import WarningEngine, WarningResult

__all__ = ["AnalyticsService", "WarningEngine", "WarningResult"]
