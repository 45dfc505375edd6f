"""The drill report as HTML for the training dialog (the saved files are JSON and PDF)."""

from __future__ import annotations

import html
from typing import Any

from hmi.core.training import fmt_seconds
from hmi.ui.i18n import i18n, tr


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th align='left'>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table cellspacing='0' cellpadding='3' border='1'><tr>{th}</tr>{body}</table>"


def report_html(report: dict[str, Any]) -> str:
    """Summary, alarms with their times to acknowledge and the operators' actions."""
    d, s = report["drill"], report["summary"]
    zh = i18n().is_zh
    tta = s["time_to_ack_s"]
    parts = [
        f"<h3>培训 TRAINING — {_e(tr('Drill report'))} {_e(d['drill_id'])}</h3>",
        "<p>"
        + _e(tr("Scenario: {name}").format(name=d["scenario"]))
        + " · "
        + _e(tr("Instructor: {user}").format(user=d["instructor"]))
        + " · "
        + _e(tr("Operator on shift: {user}").format(user=d["operator"] or "—"))
        + " · "
        + _e(tr("Duration: {t}").format(t=fmt_seconds(report["duration_s"])))
        + "</p>",
        "<p><b>"
        + _e(
            tr("Alarms raised: {n}, acknowledged: {a}, not acknowledged: {u}").format(
                n=s["alarms_raised"], a=s["acknowledged"], u=s["unacknowledged"]
            )
        )
        + "<br>"
        + _e(
            tr("Time to acknowledge: mean {mean}, max {max}").format(
                mean=fmt_seconds(tta["mean"]), max=fmt_seconds(tta["max"])
            )
        )
        + "<br>"
        + _e(
            tr("First acknowledgement after {a}, first action after {b}").format(
                a=fmt_seconds(s["first_ack_s"]), b=fmt_seconds(s["first_action_s"])
            )
        )
        + "</b></p>",
    ]
    if report.get("missed") is not None:
        parts.append(
            "<p>"
            + _e(tr("Expected, never raised: {ids}").format(ids=", ".join(report["missed"]) or "—"))
            + "<br>"
            + _e(
                tr("Raised, not expected: {ids}").format(
                    ids=", ".join(report["unexpected"] or []) or "—"
                )
            )
            + "</p>"
        )
    else:
        parts.append("<p>" + _e(tr("The scenario declares no expected alarms")) + "</p>")
    rows = [
        [
            a["alarm_id"],
            str(a["priority"]),
            fmt_seconds(a["raised_s"]),
            fmt_seconds(a["acked_s"]),
            fmt_seconds(a["time_to_ack_s"]),
            a["ack_user"] or "—",
            a["message"].get("zh" if zh else "en", ""),
        ]
        for a in report["alarms"]
    ]
    head = [tr("Alarm"), tr("Priority"), tr("Raised"), tr("Acknowledged"), tr("Time to ack"),
            tr("By"), tr("Message")]  # fmt: skip
    parts.append(f"<h4>{_e(tr('Alarms'))}</h4>" + _table(head, rows))
    rows = [
        [
            fmt_seconds(a["t_s"]),
            a["user"],
            a["action"],
            a["target"],
            "" if a["value"] is None else str(a["value"]),
            a["result"],
        ]
        for a in report["actions"]
    ]
    head = [tr("Time"), tr("User"), tr("Action"), tr("Target"), tr("Value"), tr("Result")]
    parts.append(f"<h4>{_e(tr('Operator actions'))}</h4>" + _table(head, rows))
    return "".join(parts)
