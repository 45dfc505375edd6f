"""Link parameters every polled device has, whatever its protocol (pydantic only).

Each protocol's parameter model (``drivers/<proto>/params.py``) builds on
:class:`LinkParams`; the station schema's device classes reuse those models, so a default,
a range or a check is written once and holds both when the config loads and when a
driver is made from a plain dict (tests, benchmarks, the simulator).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class LinkParams(BaseModel):
    """Timeouts, retries, back-off and poll groups of one device connection."""

    model_config = ConfigDict(frozen=True)

    timeout: float = Field(1.0, gt=0, le=60, description="seconds per request")
    retries: int = Field(1, ge=0, le=10)
    backoff_initial: float = Field(1.0, gt=0, le=600, description="seconds")
    backoff_max: float = Field(30.0, gt=0, le=3600, description="seconds")
    degrade_after: int = Field(3, ge=1, le=100, description="failed cycles before BAD")
    poll_groups: dict[str, float] = Field(default_factory=lambda: {"default": 1.0})

    @field_validator("poll_groups")
    @classmethod
    def _groups(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("needs at least one poll group: name -> period in seconds")
        for name, period in v.items():
            if not (0.05 <= float(period) <= 3600):
                raise ValueError(f"poll group {name!r}: period {period} s is outside 0.05-3600 s")
        return v

    @model_validator(mode="after")
    def _backoff(self) -> LinkParams:
        if self.backoff_initial > self.backoff_max:
            raise ValueError(
                f"backoff_initial {self.backoff_initial:g} is above "
                f"backoff_max {self.backoff_max:g}"
            )
        return self


P = TypeVar("P", bound=LinkParams)


def settings(model: type[P], params: Mapping[str, Any]) -> P:
    """A driver's checked parameters from the plain dict it is given (ValueError naming the key).

    Poll groups are left out: the runtime turns them into each point's ``poll_period``, and
    a driver never reads them (a benchmark may lower them below the config's floor).
    Keys the model does not know (resolved secrets, the PKI folder) are ignored here.
    """
    return model.model_validate({k: v for k, v in params.items() if k != "poll_groups"})


def params_problems(model: type[BaseModel], params: Mapping[str, Any]) -> list[str]:
    """Messages for the parameters ``model`` refuses, each naming its key."""
    try:
        model.model_validate(dict(params))
    except ValidationError as exc:
        return [_message(err) for err in exc.errors()]
    return []


def _message(err: Any) -> str:
    key = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] != "value_error" and "input" in err:
        msg = f"{err['input']!r}: {msg}"
    return f"{key}: {msg}" if key else msg
