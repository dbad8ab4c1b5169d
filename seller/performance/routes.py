"""Performance: the three rates Amazon judges a seller by, their daily charts, and the orders behind them."""
import csv
import io

from flask import Response, render_template, request

from .. import clock
from ..auth import requires
from ..htmx import is_partial
from ..templating import local_time
from .. import metrics
from . import bp, charts
from ..i18n import _

PAGE_SIZE = 100
AT_RISK_SHOWN = 10  # on the page; "Show all" lists up to PAGE_SIZE * 5
METRIC = "any(" + ", ".join(f"'{slug}'" for slug in metrics.DEFINITIONS) + "):metric"

bp.add_app_template_filter(metrics.pct, "percent")
bp.add_app_template_filter(charts.day_label, "day_label")
bp.add_app_template_filter(metrics.duration, "duration")


@bp.get("")
@requires("view")
def index():
    """The orders at risk of shipping late, and the rates with their counts and charts (a full page)."""
    now = clock.now()
    report = metrics.report(now)
    at_risk = metrics.at_risk(now, PAGE_SIZE * 5 if request.args.get("at_risk") == "all" else AT_RISK_SHOWN)
    return render_template("performance/index.html", metrics=report, charts=[charts.daily_chart(m) for m in report],
                           at_risk=at_risk, at_risk_total=metrics.at_risk_count(now), now=now)


@bp.get(f"/<{METRIC}>")
@requires("view")
def drill(metric):
    """The orders counted against a rate, a page at a time. htmx: the list alone (it opens under the rate)."""
    page = max(request.args.get("page", 1, type=int), 1)
    found = metrics.counted_against(metric, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("performance/_drill.html" if is_partial() else "performance/drill.html", drill=found,
                           page=page, page_size=PAGE_SIZE)


def _cell(value: str) -> str:
    """A spreadsheet must not run what an imported order ID or a typed carrier name starts with."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.get(f"/<{METRIC}>.csv")
@requires("view")
def drill_csv(metric):
    """The same orders as the drill-down, all of them, as CSV (the same columns and text as the page)."""
    found = metrics.counted_against(metric)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Order ID"), found.definition.date_label, _("Reason")])
    writer.writerows([_cell(r.order_id), local_time(r.at), _cell(r.reason)] for r in found.rows)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{metric}-{found.last.isoformat()}.csv"'})
