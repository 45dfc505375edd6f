"""Compile the station config's alarms into records and condition evaluators, once.

:class:`AlarmCatalog` is what the engine evaluates against: one :class:`AlarmRecord` per
configured (and enabled) alarm, the NumPy group of limit/discrete/fault conditions,
per-tag lists of deviation / rate-of-change conditions and of suppressed alarms, the
instrument-fault (``bad_pv``) alarms by tag and by device, and the comm-loss alarm of every
device.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from hmi.config.schema import AlarmConfig, StationConfig, TagConfig
from hmi.core.alarms.conditions import (
    OP_EQ,
    OP_HIGH,
    OP_LOW,
    OP_NE,
    DeviationCondition,
    FrozenCondition,
    RocCondition,
    VectorConditions,
)
from hmi.core.alarms.model import AlarmDef, AlarmRecord, default_message

LIMIT_OPS = {"HH": OP_HIGH, "H": OP_HIGH, "L": OP_LOW, "LL": OP_LOW}

AuxCondition = DeviationCondition | RocCondition | FrozenCondition


def _threshold(a: AlarmConfig) -> float | None:
    if a.kind in LIMIT_OPS or a.kind == "frozen":
        return a.limit
    if a.kind == "deviation":
        return a.deviation
    if a.kind == "roc":
        return a.rate
    return a.alarm_value if a.alarm_value is not None else a.normal_value


def _define(tag: TagConfig, index: int, a: AlarmConfig, tag_index: dict[str, int]) -> AlarmDef:
    limit = _threshold(a)
    en, zh = a.message.en, a.message.zh
    if not en or not zh:
        den, dzh = default_message(
            tag.label.en or tag.name,
            tag.label.zh or tag.label.en or tag.name,
            a.kind,
            limit,
            tag.unit,
        )
        en, zh = en or den, zh or dzh
    return AlarmDef(
        alarm_id=tag.alarm_id(a),
        tag=tag.name,
        kind=a.kind,
        priority=a.priority,
        tag_index=index,
        limit=limit,
        deadband=a.deadband,
        on_delay=a.on_delay,
        off_delay=a.off_delay,
        latching=a.latched,
        message_en=en,
        message_zh=zh,
        response_en=a.response.en,
        response_zh=a.response.zh,
        area=a.area or tag.area,
        suppressed_by=tag_index.get(a.suppressed_by, -1) if a.suppressed_by else -1,
        max_shelve=a.max_shelve,
        unit=tag.unit,
    )


class AlarmCatalog:
    """Every alarm of a station, compiled for evaluation."""

    def __init__(self, cfg: StationConfig, roc_window: float = 10.0) -> None:
        n = len(cfg.tags)
        tag_index = {t.name: i for i, t in enumerate(cfg.tags)}
        self.records: dict[str, AlarmRecord] = {}
        #: tag indices whose quality gates an alarm (BAD input: no raise, no clear)
        self.inputs: dict[str, tuple[int, ...]] = {}
        self.aux: dict[str, AuxCondition] = {}
        self.aux_by_tag: dict[int, list[tuple[AuxCondition, AlarmRecord]]] = defaultdict(list)
        self.sup_by_tag: dict[int, list[AlarmRecord]] = defaultdict(list)
        self.comm: dict[str, AlarmRecord] = {}
        #: bad_pv alarms: tag index -> (device id, record); device id -> (tag index, record)
        self.bad_pv_by_tag: dict[int, list[tuple[str, AlarmRecord]]] = defaultdict(list)
        self.bad_pv_by_device: dict[str, list[tuple[int, AlarmRecord]]] = defaultdict(list)
        vec_tag: list[int] = []
        vec_op: list[int] = []
        vec_thr: list[float] = []
        vec_db: list[float] = []
        vec_recs: list[AlarmRecord] = []

        for ti, tag in enumerate(cfg.tags):
            for a in tag.alarms:
                if not a.enabled:
                    continue
                d = _define(tag, ti, a, tag_index)
                rec = AlarmRecord(d)
                self.records[d.alarm_id] = rec
                self.inputs[d.alarm_id] = (ti,)
                if a.kind in LIMIT_OPS or a.kind in ("discrete", "fault"):
                    if a.kind in LIMIT_OPS:
                        op, thr = LIMIT_OPS[a.kind], float(a.limit)  # type: ignore[arg-type]
                    elif a.alarm_value is not None:
                        op, thr = OP_EQ, float(a.alarm_value)
                    else:
                        op, thr = OP_NE, float(a.normal_value)  # type: ignore[arg-type]
                    vec_tag.append(ti)
                    vec_op.append(op)
                    vec_thr.append(thr)
                    vec_db.append(a.deadband)
                    vec_recs.append(rec)
                elif a.kind == "deviation":
                    sp = tag_index.get(a.setpoint_tag, -1) if a.setpoint_tag else -1
                    cond: AuxCondition = DeviationCondition(
                        ti, sp, float(a.setpoint or 0.0), float(a.deviation or 0.0), a.deadband
                    )
                    self.aux[d.alarm_id] = cond
                    self.aux_by_tag[ti].append((cond, rec))
                    if sp >= 0:
                        self.aux_by_tag[sp].append((cond, rec))
                        self.inputs[d.alarm_id] = (ti, sp)
                elif a.kind == "bad_pv":  # its input is the quality itself: never gated
                    self.inputs[d.alarm_id] = ()
                    self.bad_pv_by_tag[ti].append((tag.device, rec))
                    self.bad_pv_by_device[tag.device].append((ti, rec))
                elif a.kind in ("roc", "frozen"):
                    cond = (
                        RocCondition(ti, float(a.rate or 0.0), a.deadband, roc_window)
                        if a.kind == "roc"
                        else FrozenCondition(ti, float(a.limit or 0.0))
                    )
                    self.aux[d.alarm_id] = cond
                    self.aux_by_tag[ti].append((cond, rec))
                if d.suppressed_by >= 0:
                    self.sup_by_tag[d.suppressed_by].append(rec)

        for dev in cfg.devices:
            ca = dev.comm_alarm
            if not dev.enabled or not ca.enabled:
                continue
            label_en = dev.label.en or dev.id
            label_zh = dev.label.zh or label_en
            d = AlarmDef(
                alarm_id=f"{dev.id}.comm",
                tag=dev.id,
                kind="comm",
                priority=ca.priority,
                on_delay=ca.on_delay,
                message_en=ca.message.en or f"Communication lost: {label_en}",
                message_zh=ca.message.zh or f"通信中断：{label_zh}",
                area=dev.area,
            )
            rec = AlarmRecord(d)
            self.records[d.alarm_id] = rec
            self.inputs[d.alarm_id] = ()
            self.comm[dev.id] = rec

        self.vector = VectorConditions(n, vec_tag, vec_op, vec_thr, vec_db)
        #: row of the vector group -> its record
        self.vector_recs = [vec_recs[int(o)] for o in self.vector.owner]
        self.vector_row = {r.d.alarm_id: row for row, r in enumerate(self.vector_recs)}
        self.aux_mask = np.zeros(n, dtype=bool)
        self.aux_mask[list(self.aux_by_tag)] = True
        self.sup_mask = np.zeros(n, dtype=bool)
        self.sup_mask[list(self.sup_by_tag)] = True
        self.bad_pv_mask = np.zeros(n, dtype=bool)
        self.bad_pv_mask[list(self.bad_pv_by_tag)] = True
        #: tags any alarm evaluates (a scan of none of them has nothing to evaluate)
        self.any_mask = self.aux_mask | self.sup_mask | self.bad_pv_mask
        self.any_mask |= np.diff(self.vector.first) > 0

    def set_raw(self, rec: AlarmRecord, raw: bool) -> None:
        """Overwrite the evaluator's remembered condition (restore, or a delay cancelled by BAD input)."""
        rec.raw = raw
        row = self.vector_row.get(rec.d.alarm_id)
        if row is not None:
            self.vector.raw[row] = raw
            return
        cond = self.aux.get(rec.d.alarm_id)
        if cond is not None:
            cond.raw = raw
            if isinstance(cond, RocCondition | FrozenCondition) and not raw:
                cond.reset_window()
