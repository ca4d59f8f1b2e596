"""The one "today" of the system: the date in the schools' time zone.

Schools work in China's time zone whatever the server's: a result entered at 07:30 in
Beijing is not dated yesterday (UTC), and a roster imported at 23:30 UTC belongs to the
next morning's school year. Every module asks here rather than ``date.today()``.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIME_ZONE = "Asia/Shanghai"


def local_zone() -> ZoneInfo:
    """The schools' time zone: ``BABEL_DEFAULT_TIMEZONE`` (default Asia/Shanghai)."""
    name = DEFAULT_TIME_ZONE
    if has_app_context():
        name = current_app.config.get("BABEL_DEFAULT_TIMEZONE", name)
    return ZoneInfo(name)


def local_now() -> datetime:
    """Now, as an aware datetime in the schools' time zone."""
    return datetime.now(local_zone())


def local_today() -> date:
    """Today in the schools' time zone."""
    return local_now().date()
