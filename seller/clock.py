"""Time: the one source of "now", stored in UTC, shown and bounded by the store's days."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def now() -> datetime:
    """Now in UTC, naive, as every time column stores it. Every "now" in the app comes from here (tests
    move time by patching it: the `frozen_now` fixture)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


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


def local_today(tz: ZoneInfo, at: datetime | None = None) -> date:
    """The store's calendar day at `at` (default: now)."""
    return to_local(at or now(), tz).date()
