"""Calculated tags: expressions over other tags, windowed and stateful functions, manual entries.

The language and the load-time checks live in :mod:`hmi.config.calc_expr` and
:mod:`hmi.config.calc`; this package evaluates them on the acquisition thread
(:class:`CalcEngine`) behind a ``protocol: calc`` device (:class:`CalcDriver`).
"""

from hmi.core.calc.driver import CalcDriver
from hmi.core.calc.engine import CalcEngine

__all__ = ["CalcDriver", "CalcEngine"]
