"""A rate per day against its target, drawn on the server as SVG.

This module works out the geometry; `templates/performance/_chart.html` writes the markup. The drawing is a
line through one dot per day (no dot on a day without orders, and the line breaks there), the target as a
dashed line, and the side of it that misses the target shaded, so a bad day is a red dot in the red band.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..metrics import Metric, Rate, pct
from ..i18n import _, format_local

WIDTH, HEIGHT = 960, 250
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 18, 36  # room for the axis labels
TICKS = 5
LABEL_EVERY = 7  # days between the dates written under the chart


def day_label(day: date) -> str:
    return format_local(day, "chart_day", None)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    meets: bool
    text: str  # e.g. "Nov 3: 2.50% (1 late of 40 orders confirmed)"


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    desc: str
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    points: list[Point]
    lines: list[str]  # SVG polyline points, one per run of days with orders
    target_y: float
    target_label: str  # in the legend
    target_tick: str  # on the y axis, where the dashed line starts
    band: tuple[float, float]  # y and height of the area that misses the target
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def _scale(metric: Metric) -> tuple[Decimal, Decimal]:
    """The percent range of the y axis: from 0 for a rate to keep low, up to 100 for one to keep high."""
    d = metric.definition
    values = [r.percent for _day, r in metric.daily if r.total]
    if d.higher_is_better:
        floor = min([d.target - 5, *values])
        return next(lo for lo in (Decimal(90), Decimal(80), Decimal(50), Decimal(0)) if lo <= floor), Decimal(100)
    ceiling = max([d.target * 2, *values])
    return Decimal(0), next(hi for hi in (5, 10, 20, 25, 50, 100) if hi >= ceiling)


def _describe(metric: Metric, days_with_orders: list[tuple[date, Rate]]) -> str:
    d = metric.definition
    first, last = metric.daily[0][0], metric.daily[-1][0]
    text = _("%(rate)s per day from %(first)s to %(last)s, target %(target)s.", rate=d.name, first=day_label(first),
             last=day_label(last), target=d.target_text)
    if not days_with_orders:
        return f'{text} {_("No orders on any of these days.")}'
    missed = [(day, r) for day, r in days_with_orders if not d.meets(r)]
    text += " " + _("%(missed)s of %(days)s days with orders missed the target.", missed=len(missed),
                    days=len(days_with_orders))
    if missed:
        worst_day, worst = (min if d.higher_is_better else max)(missed, key=lambda dr: dr[1].percent)
        text += " " + (_("The lowest was %(rate)s on %(day)s.", rate=pct(worst.percent), day=day_label(worst_day))
                       if d.higher_is_better else
                       _("The highest was %(rate)s on %(day)s.", rate=pct(worst.percent), day=day_label(worst_day)))
    empty = len(metric.daily) - len(days_with_orders)
    return text + (" " + _("%(num)s days without orders.", num=empty) if empty else "")


def daily_chart(metric: Metric) -> Chart:
    d = metric.definition
    lo, hi = _scale(metric)
    plot_h, slot = HEIGHT - TOP - BOTTOM, (WIDTH - LEFT - RIGHT) / len(metric.daily)

    def y(value: Decimal) -> float:
        return round(TOP + float((hi - value) / (hi - lo)) * plot_h, 1)

    points, lines, run = [], [], []
    for i, (day, rate) in enumerate(metric.daily):
        if not rate.total:
            run = []
            continue
        x = round(LEFT + (i + 0.5) * slot, 1)
        points.append(Point(x, y(rate.percent), bool(d.meets(rate)),
                            _("%(day)s: %(rate)s (%(count)s %(counted)s of %(total)s %(of)s)", day=day_label(day),
                              rate=pct(rate.percent), count=rate.count, counted=d.counted, total=rate.total, of=d.of)))
        if not run:
            lines.append("")
        run.append(f"{x},{points[-1].y}")
        lines[-1] = " ".join(run)
    step = (hi - lo) / TICKS
    target_y = y(d.target)
    y_ticks = [(y(lo + step * k), pct(lo + step * k, places=None)) for k in range(TICKS + 1)]
    y_ticks = [(at, label) for at, label in y_ticks if abs(at - target_y) >= 16]  # the target's label wins
    last = len(metric.daily) - 1
    x_ticks = [(round(LEFT + (i + 0.5) * slot, 1), _("Today") if i == last else day_label(day))
               for i, (day, _rate) in enumerate(metric.daily) if (last - i) % LABEL_EVERY == 0]
    band = (target_y, HEIGHT - BOTTOM - target_y) if d.higher_is_better else (TOP, target_y - TOP)
    with_orders = [(day, r) for day, r in metric.daily if r.total]
    return Chart(d.slug, _("%(rate)s per day, last %(num)s days", rate=d.name, num=len(metric.daily)), _describe(metric, with_orders),
                 y_ticks, x_ticks, points, [line for line in lines if " " in line], target_y,
                 _("Target %(target)s", target=d.target_text), pct(d.target, places=None), band)
