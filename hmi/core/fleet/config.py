"""The dispatch config: a small YAML naming the stations in pipeline order (network view).

```yaml
pipeline:                       # upstream first
  - {station: gate_north, name: {en: North city gate, zh: 北门站}}
  - {station: reg_east, feeds_from: gate_north}
```
Stations not listed still appear everywhere else (and at the end of the network view).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class DispatchConfigError(Exception):
    """The dispatch config cannot be read; the message names file and key."""


class PipelineEntry(BaseModel):
    """One station in the network view."""

    model_config = ConfigDict(extra="forbid")
    station: str
    name: dict[str, str] = Field(default_factory=dict)
    feeds_from: str = ""


class DispatchConfig(BaseModel):
    """What ``--config`` may say."""

    model_config = ConfigDict(extra="forbid")
    pipeline: list[PipelineEntry] = Field(default_factory=list)

    def display_name(self, station_id: str, lang: str, default: str = "") -> str:
        """The station's name in ``lang`` from the config, else ``default`` (its birth's)."""
        for e in self.pipeline:
            if e.station == station_id and e.name:
                key = "zh" if lang.startswith("zh") else "en"
                return e.name.get(key) or default or next(iter(e.name.values()))
        return default or station_id

    def order(self, station_id: str) -> int:
        """Position in the pipeline (unknown stations after every listed one)."""
        for i, e in enumerate(self.pipeline):
            if e.station == station_id:
                return i
        return len(self.pipeline)


def load_dispatch_config(path: str | Path | None) -> DispatchConfig:
    """Read and check the dispatch config (an empty one when ``path`` is None)."""
    if not path:
        return DispatchConfig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DispatchConfigError(f"{p}: cannot read the dispatch config: {exc}") from None
    try:
        return DispatchConfig.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        key = ".".join(str(x) for x in e["loc"])
        line = _line_of(text, str(e["loc"][0]) if e["loc"] else "")
        raise DispatchConfigError(f"{p}:{line}: {key}: {e['msg']}") from None


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(f"{key}:") or f" {key}:" in line:
            return i
    return 1
