"""System alarms: the station's own faults (damaged database, disk full), not a tag's.

They are fixed, not configured: every station has them, so their state is journaled and
restored like any other alarm. Each carries a reason (what happened, where the damaged
file is, what to do) that the alarm message shows, as a comm-loss alarm shows its
device's reason. Priority 2 (high): the live process still runs, but something the
station engineer must act on today is broken.
"""

from __future__ import annotations

from hmi.core.alarms.model import AlarmDef

KIND = "system"
PRIORITY = 2
#: database file stem -> (English, Chinese) label
DATABASES = {
    "history": ("history database", "历史数据库"),
    "alarms": ("alarm database", "报警数据库"),
    "outbox": ("uplink outbox", "上传缓存库"),
    "analytics": ("analytics database", "分析数据库"),
    "users": ("user database", "用户数据库"),
}
#: writer -> (English, Chinese) label of a store that stopped writing (disk full, read-only)
WRITERS = {
    "history": ("historian", "历史记录"),
    "outbox": ("uplink outbox", "上传缓存"),
}


def damaged_id(stem: str) -> str:
    """Alarm id of "``<stem>.db`` was damaged and repaired at start"."""
    return f"system.db.{stem}"


def disk_id(writer: str) -> str:
    """Alarm id of "``writer`` cannot write (disk full or read-only)"."""
    return f"system.disk.{writer}"


def _define(alarm_id: str, en: str, zh: str, response_en: str, response_zh: str) -> AlarmDef:
    return AlarmDef(
        alarm_id=alarm_id,
        tag="system",
        kind=KIND,
        priority=PRIORITY,
        message_en=en,
        message_zh=zh,
        response_en=response_en,
        response_zh=response_zh,
        area="system",
    )


def system_alarm_defs() -> list[AlarmDef]:
    """Every system alarm of a station."""
    out = [
        _define(
            damaged_id(stem),
            f"Damaged {en} set aside",
            f"{zh}损坏，已隔离",
            "See the reason; restore from a backup if the salvaged data is not enough",
            "查看原因；如抢救的数据不够，从备份恢复",
        )
        for stem, (en, zh) in DATABASES.items()
    ]
    out += [
        _define(
            disk_id(w),
            f"The {en} cannot write",
            f"{zh}无法写入",
            "Free disk space (or fix the read-only disk); writing resumes by itself",
            "释放磁盘空间（或修复只读磁盘）；写入会自动恢复",
        )
        for w, (en, zh) in WRITERS.items()
    ]
    return out
