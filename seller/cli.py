"""`flask --app app ...` commands (contract §2)."""
import os
import sys
from pathlib import Path

import click
import flask_migrate
from flask import current_app
from sqlalchemy import func, select

from . import users
from .extensions import db
from .i18n import _, ngettext
from .models import Order, User


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(users.ROLES), required=True)
@click.option("--password", help="Prompted for (hidden, twice) when omitted.")
def create_user(email, role, password):
    """Add a user who can sign in."""
    if password is None:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    try:
        user = users.create(email, password, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("Created %(role)s %(email)s.", role=_(user.role), email=user.email))


@click.command("seed-demo")
@click.option("--orders", "count", default=120, show_default=True, help="How many orders to make.")
@click.option("--seed", default=7, show_default=True, help="Random seed, for the same data twice.")
def seed_demo(count, seed):
    """Fill an empty database with demo orders in every status, returns and refunds, and two accounts."""
    from .demo import seed as make
    if db.session.scalar(select(func.count()).select_from(Order)):
        raise click.ClickException(_("The database already has orders; seed-demo only fills an empty one."))
    accounts = make(count, seed)
    click.echo(_("Made %(count)s orders over the last 60 days.", count=count))
    for role, (email, password) in accounts.items():
        click.echo(f"  {_(role):5}  " + _("Email: %(email)s  Password: %(password)s", email=email, password=password))


def _upgrade_and_announce(url: str) -> None:
    """Apply the migrations; on a desk without an owner, print a fresh setup code and where to use it."""
    from . import setup
    flask_migrate.upgrade(directory=current_app.extensions["migrate"].directory)
    if current_app.config["SELLER_DEMO"]:
        from .demo import start_demo
        if start_demo():
            click.echo(_("Demo desk: filled with demo data."))
        click.echo(_("Demo desk: open %(url)s/login and sign in as owner@example.com or staff@example.com "
                     "(the passwords are shown on the sign-in page).", url=url))
        return
    if setup.owner_exists():
        click.echo(_("Seller Desk: open %(url)s/login and sign in with your e-mail and password.", url=url))
        return
    code = setup.new_code()
    click.echo(_("Seller Desk: this desk has no owner yet. Open %(url)s/ and create the owner account "
                 "(or fill it with demo data) with this one-time code:", url=url))
    click.echo(f"\n    {_('Setup code')}: {code}\n")


def _start_amazon_loop() -> None:
    """The Amazon loop beside the server (contract §11): one process, idle until a connection is saved, ending
    with the server. Another loop already running (the Procfile's worker) keeps the lock; this one then waits."""
    import subprocess
    subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "amazon-sync", "--loop",
                      "--parent", str(os.getpid())])


@click.command("serve")
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="127.0.0.1",
              help="0.0.0.0 to serve tablets on the local network.")
@click.option("--port", default=lambda: int(os.environ.get("PORT", "5000")), show_default="5000 or $PORT")
@click.option("--workers", default=3, show_default=True, help="Worker processes (gunicorn).")
def serve(host, port, workers):
    """Apply migrations, say how to sign in, then serve with a production server (gunicorn; waitress on Windows)."""
    _upgrade_and_announce(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")
    _start_amazon_loop()
    db.session.remove()
    db.engine.dispose()
    if sys.platform == "win32":
        import waitress
        waitress.serve(current_app._get_current_object(), host=host, port=port, threads=8)
        return
    # --timeout as in the Procfile: Confirm shipments of a 5,000-line tracking file takes longer than the default 30 s
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers",
                               str(workers), "--timeout", "60", "--access-logfile", "-", "app:app"])


@click.command("release")
def release():
    """The platform's release phase: apply migrations; without an owner, print a setup code (in the release log)."""
    domain = os.environ.get("HEROKU_APP_DEFAULT_DOMAIN_NAME")  # with Heroku's dyno metadata (labs) on
    _upgrade_and_announce((os.environ.get("SELLER_URL") or f"https://{domain or '<your app>'}").rstrip("/"))


@click.command("reset-demo")
def reset_demo():
    """Start the demo desk over: every table emptied, the demo data seeded again (only with SELLER_DEMO=1)."""
    from .demo import reset_demo as reset
    if not current_app.config["SELLER_DEMO"]:
        raise click.ClickException(_("reset-demo empties the whole desk, so it only runs on a demo desk "
                                     "(SELLER_DEMO=1)."))
    reset()
    click.echo(_("The demo desk is back to its demo data."))


def _echo_rows(name: str, rows: int) -> None:
    click.echo(f"  {name}: {rows}", err=True)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def backup(file):
    """Write the whole desk to FILE (one portable, versioned file), as one snapshot even while the desk is in use."""
    from .backup import BackupError, write
    try:
        counts = write(file, _echo_rows)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("Wrote %(file)s: %(rows)s rows.", file=file, rows=sum(counts.values())))


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore(file):
    """Load a backup FILE into this empty database (SQLite or PostgreSQL), then upgrade it to this code's schema."""
    from .backup import BackupError, restore as load
    try:
        counts = load(file, _echo_rows)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("Restored %(file)s: %(rows)s rows.", file=file, rows=sum(counts.values())))


@click.command("check")
def check():
    """Check that the records hold together: money within what was paid, no half-written action (and SQLite's
    integrity_check). Exits 1 when something is wrong."""
    from .checks import problems
    found = problems()
    for problem in found:
        click.echo(problem, err=True)
    if found:
        raise click.ClickException(_("%(n)s problems found.", n=len(found)))
    click.echo(_("All records hold together."))


@click.command("setup-code")
def setup_code():
    """Print a new one-time setup code for Create the owner account (only while the desk has no owner)."""
    from . import setup
    if setup.owner_exists():
        raise click.ClickException(_("This desk already has an owner. Sign in instead."))
    click.echo(f"{_('Setup code')}: {setup.new_code()}")


@click.command("import-orders")
@click.argument("file", type=click.File("rb"))
def import_orders(file):
    """Import an Amazon order report (Order Report or Unshipped Orders Report), all of it or nothing."""
    from .reports import import_report
    result = import_report(file.read())
    if not result.ok:
        for error in result.errors:
            click.echo(_("Line %(line)s: %(message)s", line=error.line, message=error.message), err=True)
        raise click.ClickException(ngettext("Nothing was imported: %(num)d bad row.",
                                             "Nothing was imported: %(num)d bad rows.", len(result.errors)))
    click.echo(_("Imported %(file)s: %(summary)s", file=file.name, summary=result.summary()))


@click.command("import-tracking")
@click.argument("file", type=click.File("rb"))
@click.option("--preview", is_flag=True, help="Only say what would happen; confirm nothing.")
def import_tracking(file, preview):
    """Upload tracking: confirm the shipments of a tracking file (CSV order-id,carrier,tracking-number,ship-date
    [,shipping-service], or Amazon's shipping confirmation file), each order on its own; refused lines are listed."""
    from . import tracking
    data = file.read()
    plan = tracking.preview(data) if preview else tracking.confirm(data, None)
    if plan.error:
        raise click.ClickException(plan.error)
    for outcome in plan.outcomes:
        if outcome.state == tracking.REFUSED:
            for reason in outcome.reasons:
                click.echo(f"{outcome.order_id or '-'}: {reason}", err=True)
    click.echo(_("%(file)s: %(summary)s", file=file.name, summary=tracking.summary(plan)))


@click.command("export-shipments")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First store day, YYYY-MM-DD (default: no limit).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last store day, YYYY-MM-DD (default: no limit).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="File to write (default: standard output).")
def export_shipments(since, until, output):
    """Write the shipping confirmation file (Amazon's OrderFulfillment template) for the shipments
    confirmed on the store days since..until, both included."""
    from . import clock, workflow
    from .reports import shipping_confirmations
    text, rows = shipping_confirmations(since and since.date(), until and until.date())
    workflow.save_settings(shipments_exported_at=clock.now())
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8", newline="")
    click.echo(ngettext("Wrote %(num)d row to %(file)s.", "Wrote %(num)d rows to %(file)s.", rows, file=output))


@click.command("amazon-sync")
@click.option("--loop", is_flag=True, help="Keep going: pull every few minutes, push within seconds of an action.")
@click.option("--pull-minutes", default=5.0, show_default=True, help="With --loop: minutes between pulls.")
@click.option("--push-seconds", default=2.0, show_default=True, help="With --loop: seconds between outbox checks.")
@click.option("--parent", type=int, hidden=True, help="With --loop: stop when this process is gone (serve).")
def amazon_sync(loop, pull_minutes, push_seconds, parent):
    """Sync with Amazon: pull the orders updated since the last sync, then push what the desk did."""
    from .amazon import worker
    if loop:
        worker.loop(pull_every=pull_minutes * 60, push_every=push_seconds, parent=parent, echo=click.echo)
        return
    ok, message = worker.run_once()
    if not ok:
        raise click.ClickException(message)
    click.echo(message)


@click.command("import-returns")
@click.argument("file", type=click.File("rb"))
def import_returns(file):
    """Import Amazon's returns report: creates or updates return requests, all of it or nothing."""
    from .i18n import _, ngettext
    from .returns_report import import_returns as run
    result = run(file.read())
    for line in [*result.unknown, *result.errors]:
        click.echo(_("Line %(line)d: %(message)s", line=line.line, message=line.message), err=True)
    if not result.ok:
        raise click.ClickException(ngettext("Nothing was imported: %(num)d bad line.",
                                            "Nothing was imported: %(num)d bad lines.", len(result.errors)))
    click.echo(_("Imported %(file)s: %(new)d new, %(updated)d updated, %(unchanged)d unchanged (%(rows)d lines, "
                 "%(unknown)d for orders not in the desk).", file=file.name, new=result.new, updated=result.updated,
                 unchanged=result.unchanged, rows=result.rows, unknown=len(result.unknown)))


@click.command("close-stale-returns")
def close_stale_returns():
    """Close the Authorized return requests with nothing received within Settings' Close returns after (days),
    reason "Item not returned", e-mailing the buyers when SMTP is set. Safe to run every hour."""
    from . import mail, workflow
    from .i18n import _, ngettext
    kept = workflow.close_stale_returns()
    unsent = mail.deliver_all(kept)
    click.echo(ngettext("Closed %(num)d return request: item not returned.",
                        "Closed %(num)d return requests: item not returned.", len(kept)))
    if unsent:
        click.echo(_("%(num)d e-mails to buyers could not be sent; the messages are kept in the orders' history.",
                     num=unsent), err=True)


def init_app(app):
    for command in (create_user, seed_demo, import_orders, import_tracking, export_shipments, serve, release,
                    setup_code, amazon_sync, reset_demo, close_stale_returns, import_returns, backup, restore, check):
        app.cli.add_command(command)
