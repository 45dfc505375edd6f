"""The ``interlocks:`` section: permissives the command service enforces before a write.

Each entry guards writes to one command tag (optionally only of one value, e.g. a reset
pulse of 1) and lists conditions that must all hold at that moment::

    interlocks:
      - command: esd.reset_cmd
        value: 1
        message: {en: "ESD open needs equalised pressure", zh: 紧急切断阀开启需压力平衡}
        require:
          - {tag: inlet.pressure, minus: filters.outlet.pressure, abs: true, below: 0.1}
      - command: reg1.ssv.reset
        value: 1
        require:
          - {tag: reg1.outlet.pressure, below: 0.41}

Besides these, the protection ladder bounds set points (:func:`ladder_bound`): a run's
active set point cannot be written at or above its monitor's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig

Path_ = tuple[Any, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Text(_Strict):
    en: str = ""
    zh: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"en": data, "zh": data} if isinstance(data, str) else data


class Condition(_Strict):
    """``tag`` (or ``tag - minus``, absolute with ``abs``) below and/or above a value."""

    tag: str
    minus: str = ""
    abs: bool = False
    below: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _bound(self) -> Condition:
        if self.below is None and self.above is None:
            raise ValueError("a condition needs 'below' or 'above'")
        return self

    def text(self) -> str:
        """The condition in words (for a refusal)."""
        what = f"{self.tag} - {self.minus}" if self.minus else self.tag
        what = f"|{what}|" if self.abs else what
        parts = []
        if self.below is not None:
            parts.append(f"below {self.below:g}")
        if self.above is not None:
            parts.append(f"above {self.above:g}")
        return f"{what} {' and '.join(parts)}"

    def holds(self, value: float) -> bool:
        """Whether the (computed) value satisfies the condition."""
        v = abs(value) if self.abs else value
        return (self.below is None or v < self.below) and (self.above is None or v > self.above)


class Permissive(_Strict):
    """Conditions that must all hold before ``command`` may be written."""

    command: str
    value: float | None = None  # only writes of this value (None: every write)
    message: _Text = Field(default_factory=_Text)
    require: list[Condition] = Field(min_length=1)


def interlock_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """(path, message) for unknown or read-only tags in the ``interlocks:`` section."""
    tags = cfg.tag_map()
    out: list[tuple[Path_, str]] = []
    for i, p in enumerate(cfg.interlocks):
        t = tags.get(p.command)
        if t is None:
            out.append((("interlocks", i, "command"), f"unknown tag {p.command!r}"))
        elif t.access != "rw":
            out.append(
                (("interlocks", i, "command"), f"{p.command} is read-only: nothing to guard")
            )
        for j, c in enumerate(p.require):
            for key in ("tag", "minus"):
                ref = getattr(c, key)
                if ref and ref not in tags:
                    out.append((("interlocks", i, "require", j, key), f"unknown tag {ref!r}"))
    if cfg.horn_output:
        t = tags.get(cfg.horn_output)
        if t is None or t.access != "rw":
            why = "unknown tag" if t is None else "a read-only tag"
            out.append((("horn_output",), f"{cfg.horn_output!r} is {why}: name a writable coil"))
    return out


def ladder_bound(cfg: StationConfig, tag: str) -> tuple[float, str] | None:
    """(exclusive upper bound, why) of a set-point tag from the protection ladder, or None."""
    for run in cfg.protection.runs:
        if run.tag("active") == tag:
            return run.monitor, f"the active set point of {run.id} must stay below its monitor"
    return None
