"""Station history made by the simulator's model, faster than real time (demo, docs, tests).

:func:`backfill` steps the station model (at a coarser internal step than the live
simulator, which keeps its statistics) and passes every reading through the real
:class:`~hmi.core.tagtable.TagTable`, so what lands in ``history.db`` follows each tag's
own history policy (deadband, max interval, periodic) exactly as the runtime would
store it. A demo station then has weeks of history for its forecast and reports at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import Batch, Quality
from hmi.config.schema import StationConfig
from hmi.core.historian import Historian
from hmi.core.tagtable import TagTable

log = logging.getLogger(__name__)


def _model_class(dt: float) -> type:
    from drivers.sim.model import StationModel

    if dt == StationModel.DT:
        return StationModel
    return type(
        "CoarseStationModel",
        (StationModel,),
        {"DT": float(dt), "__doc__": "The station model at a coarser step."},
    )


def _calc_engines(cfg: StationConfig, table: TagTable) -> list[Any]:
    """One expression engine per calc device (state-based suppressions, derived figures)."""
    from hmi.core.calc.engine import CalcEngine

    out = []
    for d in cfg.devices:
        if d.protocol == "calc":
            mine = [t.name for t in cfg.tags if t.device == d.id and t.expr]
            if mine:
                params = d.driver_params()
                out.append(
                    CalcEngine(
                        cfg,
                        list(table.names),
                        mine,
                        gas_day_start=int(params.get("gas_day_start", 8)),
                        timezone=cfg.station.timezone,
                    )
                )
    return out


def backfill(
    cfg: StationConfig,
    hist: Historian,
    start: float,
    duration: float,
    *,
    scenario: str = "normal",
    seed: int = 0,
    step: float = 10.0,
    model_dt: float = 2.0,
    params: Mapping[str, Any] | None = None,
    model: Any = None,
    alarms_db: Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> Any:
    """Store ``duration`` seconds of simulated history from ``start``; return the model.

    Every tag whose ``sim:`` names a model variable is read every ``step`` model seconds.
    Pass ``model`` to continue a previous run (``start`` is then ignored). With
    ``alarms_db`` the station's alarms are evaluated on the same readings (on model
    time) and journaled there, as the runtime would. Calculated tags (calc devices) are
    evaluated after every reading too, so their history exists and the alarms they
    suppress by design are suppressed here as well.
    """
    if model is None:
        p = {"warmup": 300.0, **dict(params or {})}
        model = _model_class(model_dt)(seed=seed, start_time=start, params=p, scenario=scenario)
    fed = [
        i
        for i, t in enumerate(cfg.tags)
        if isinstance(t.sim, str) and t.type != "string" and model.has(t.sim)
    ]
    if not fed:
        raise ValueError("no tag of this station is fed by a model variable (sim:)")
    tags = cfg.tags
    table = TagTable(tags)
    names = [str(tags[i].sim) for i in fed]
    idx = np.asarray(fed, dtype=np.int32)
    gain = table.gain[idx]
    offset = table.offset[idx]
    engine = None
    if alarms_db is not None:
        from hmi.core.alarms import AlarmEngine

        engine = AlarmEngine(cfg, Path(alarms_db), clock=model.time)
    chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    calcs = _calc_engines(cfg, table)

    def apply(batch: Batch) -> None:
        """As the runtime: the tag table, the alarms, history, then the calc tags it feeds."""
        res = table.apply(batch)
        if engine is not None:
            engine.process(res.scan)
        h = res.history
        if len(h):
            chunks.append((h.indices.copy(), h.ts.copy(), np.asarray(h.values, np.float64).copy()))
        u = res.scan
        for calc in calcs:
            out = calc.feed(u.indices, u.values, u.quality, u.ts, u.reasons)
            calc.busy = True  # its own results come back through apply: no re-entry
            try:
                for b in out:
                    apply(b)
            finally:
                calc.busy = False

    n = int(duration / step + 1e-9)
    for k in range(n):
        model.step(step)
        ts = float(model.time())
        raw = (model.values_of(names) - offset) / gain
        apply(Batch(idx, raw, int(Quality.GOOD), "", ts, ts))
        if engine is not None:
            engine.tick(ts)
        if progress is not None and k % 360 == 0:
            progress((k + 1) / n)
    if chunks:
        ind = np.concatenate([c[0] for c in chunks])
        ts_all = np.concatenate([c[1] for c in chunks])
        val = np.concatenate([c[2] for c in chunks])
        order = np.argsort(ind, kind="stable")
        ind, ts_all, val = ind[order], ts_all[order], val[order]
        bounds = np.flatnonzero(np.diff(ind)) + 1
        for part in np.split(np.arange(len(ind)), bounds):
            if len(part):
                hist.bulk_load(tags[int(ind[part[0]])].name, ts_all[part], val[part])
    if engine is not None:
        engine.close()
    log.info("backfilled %.1f h of %s history for %d tags", duration / 3600.0, scenario, len(tags))
    return model
