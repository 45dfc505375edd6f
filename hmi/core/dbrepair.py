"""What the station does after :mod:`hmi.core.dbcheck` repaired a damaged database at start.

For every :class:`~hmi.core.dbcheck.Repair`: a system alarm (priority 2) whose text says
what happened, how many rows were salvaged and where the damaged file is; an audit record
with the counts and paths; and the special cases:

* ``users.db``: the console is locked down to the viewer (see
  :mod:`hmi.core.users.lockdown`); never an empty or partial user store that lets anyone in.
* the audit chain in ``users.db``: the salvaged rows are verified; the audit record of the
  repair names the last row that verifies and where the chain breaks, and every later row
  chains from the salvaged head, so ``gas-hmi audit verify`` shows the break at the damage.
* ``outbox.db``: every readable row is salvaged (undelivered data); nothing else to do, the
  uplink replays them in order.
"""

from __future__ import annotations

import logging
from typing import Any

from hmi.core.alarms.system import damaged_id
from hmi.core.dbcheck import Repair
from hmi.core.users.lockdown import help_text

log = logging.getLogger(__name__)


def apply_repairs(runtime: Any, repairs: list[Repair]) -> None:
    """Alarm, audit and lock down for each repair (``runtime``: alarms, audit, users, data_dir)."""
    for rep in repairs:
        details = rep.as_dict()
        text = rep.summary()
        if rep.stem == "users":
            text = f"{text}; {help_text(str(rep.damaged), str(runtime.data_dir))}"
            runtime.users.lock_down(text)
            details.update(_chain(runtime.audit))
        runtime.audit.append(
            "db_repair",
            user="system",
            origin="system",
            target=rep.path.name,
            result="salvaged" if rep.salvaged else "empty",
            details=details,
        )
        if runtime.alarms is not None:
            runtime.alarms.system_alarm(damaged_id(rep.stem), True, text)


def _chain(audit: Any) -> dict[str, Any]:
    """How far the salvaged audit chain verifies, and where it breaks."""
    try:
        rep = audit.verify()
    except Exception as exc:  # noqa: BLE001 - unreadable trail: say so in the record
        return {"chain": f"cannot verify: {exc}"}
    if rep.ok:
        return {"chain": "verifies", "chain_rows": rep.checked}
    log.warning("salvaged audit chain verifies up to %d row(s): %s", rep.checked, rep.reason)
    return {
        "chain": "broken",
        "chain_verified_rows": rep.checked,
        "chain_break_seq": rep.first_bad,
        "chain_break": rep.reason,
    }
