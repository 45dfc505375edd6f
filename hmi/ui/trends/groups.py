"""Saved trend groups: the station config's groups plus the ones users save.

User groups live in ``<data dir>/trend_groups.json`` (a small file the station engineer
can read, copy or delete), written atomically (temporary file + rename) so a crash
never leaves half a file. A broken file is reported and set aside, never fatal: the
config groups stay available.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "trend_groups.json"


@dataclass
class Group:
    """A named set of pens with its default range (``"1h"``, ``"30d"``...)."""

    name: str
    pens: list[str]
    range: str = "1h"
    title: dict[str, str] = field(
        default_factory=dict
    )  # {"en": ..., "zh": ...}; config groups only
    user: bool = True  # saved by a user (can be deleted), not from the station config

    def as_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"name": self.name, "pens": list(self.pens), "range": self.range}


class GroupStore:
    """Trend groups of one station: config groups (read-only) + user groups (the JSON file)."""

    def __init__(self, config_groups: list[Any], data_dir: Path | str | None) -> None:
        self.config = [
            Group(g.name, list(g.pens), g.range, g.title.model_dump(), user=False)
            for g in config_groups
        ]
        self.path = Path(data_dir) / FILE_NAME if data_dir else None
        self.error = ""
        self.user: list[Group] = self._load()

    @property
    def writable(self) -> bool:
        """True when user groups can be saved."""
        return self.path is not None

    def groups(self) -> list[Group]:
        """Config groups, then user groups (a user group may not shadow a config one)."""
        return self.config + self.user

    def get(self, name: str) -> Group | None:
        """Group by name."""
        return next((g for g in self.groups() if g.name == name), None)

    def save(self, name: str, pens: list[str], range_text: str) -> Group:
        """Save (or replace) a user group. Raises ValueError for a bad name, OSError when
        the file cannot be written."""
        name = name.strip()
        if not name:
            raise ValueError("a group needs a name")
        if any(g.name == name for g in self.config):
            raise ValueError(f"{name!r} is a group of the station config")
        if not pens:
            raise ValueError("a group needs at least one pen")
        if self.path is None:
            raise OSError("no data directory to save trend groups in")
        group = Group(name, list(pens), range_text)
        user = [g for g in self.user if g.name != name] + [group]
        self._write(user)
        self.user = user
        return group

    def delete(self, name: str) -> bool:
        """Delete a user group; False when there is none of that name."""
        user = [g for g in self.user if g.name != name]
        if len(user) == len(self.user):
            return False
        self._write(user)
        self.user = user
        return True

    def _write(self, groups: list[Group]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        data = {"version": 1, "groups": [g.as_json() for g in groups]}
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)

    def _load(self) -> list[Group]:
        if self.path is None or not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            out = []
            for g in data.get("groups", []):
                pens = [str(p) for p in g["pens"]]
                out.append(Group(str(g["name"]), pens, str(g.get("range", "1h"))))
            return out
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.error = (
                f"saved trend groups in {self.path} are unreadable ({exc}); they were set aside"
            )
            log.error("%s", self.error)
            try:
                os.replace(self.path, self.path.with_suffix(".json.broken"))
            except OSError:
                pass
            return []
