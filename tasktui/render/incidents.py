"""How the incident questions' verdicts look, for the CLI and the console alike: each verdict's
semantic style (tasktui.render.styles), so that `tasktui errors` and the console's errors view
colour a trend the same way."""

from __future__ import annotations

from tasktui.core.incidents.draining import Verdict
from tasktui.core.incidents.errors import Trend
from tasktui.core.incidents.schedules import ScheduleStatus
from tasktui.render import styles

TREND_STYLE = {
    Trend.NEW: styles.BAD,
    Trend.RISING: styles.BAD,
    Trend.STEADY: "",
    Trend.FALLING: styles.GOOD,
}

VERDICT_STYLE = {
    Verdict.STALLED: styles.BAD,
    Verdict.GROWING: styles.WARN,
    Verdict.DRAINING: styles.GOOD,
    Verdict.KEEPING_UP: styles.GOOD,
    Verdict.IDLE: styles.MUTED,
    Verdict.STEADY: "",
}

SCHEDULE_STYLE = {
    ScheduleStatus.OK: styles.GOOD,
    ScheduleStatus.DUE: "",
    ScheduleStatus.PAUSED: styles.MUTED,
    ScheduleStatus.BLOCKED: styles.BAD,
    ScheduleStatus.OVERDUE: styles.WARN,
}
