"""Time in the store's timezone: stored in UTC, shown and bounded by store days."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .models import utcnow

__all__ = ["utcnow", "store_tz", "to_local", "local_day_start", "day_range", "local_today"]


def store_tz(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A stored (naive UTC) time as wall-clock time in the store's timezone."""
    return dt.replace(tzinfo=timezone.utc).astimezone(tz) if dt else None


def local_day_start(day: date, tz: ZoneInfo) -> datetime:
    """00:00 of a store day, as naive UTC (DST-safe: the zone decides the offset of that day)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def day_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in naive UTC covering the store days first..last inclusive."""
    return local_day_start(first, tz), local_day_start(last + timedelta(days=1), tz)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return to_local(now or utcnow(), tz).date()
