"""`flask --app app ...` commands (contract §2)."""
from pathlib import Path

import click
from sqlalchemy import func, select

from . import users
from .extensions import db
from .models import Order


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(users.ROLES), required=True)
@click.option("--password", help="Prompted for (hidden, twice) when omitted.")
def create_user(email, role, password):
    """Add a user who can sign in."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = users.create(email, password, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role} {user.email}.")


@click.command("seed-demo")
@click.option("--orders", "count", default=120, show_default=True, help="How many orders to make.")
@click.option("--seed", default=7, show_default=True, help="Random seed, for the same data twice.")
def seed_demo(count, seed):
    """Fill an empty database with demo orders in every status, returns and refunds, and two accounts."""
    from .demo import seed as make
    if db.session.scalar(select(func.count()).select_from(Order)):
        raise click.ClickException("The database already has orders; seed-demo only fills an empty one.")
    accounts = make(count, seed)
    click.echo(f"Made {count} orders over the last 60 days.")
    for role, (email, password) in accounts.items():
        click.echo(f"  {role:5}  Email: {email}  Password: {password}")


@click.command("import-orders")
@click.argument("file", type=click.File("rb"))
def import_orders(file):
    """Import an Amazon order report (Order Report or Unshipped Orders Report), all of it or nothing."""
    from .reports import import_report
    result = import_report(file.read())
    if not result.ok:
        for error in result.errors:
            click.echo(f"Line {error.line}: {error.message}", err=True)
        raise click.ClickException(f"Nothing was imported: {len(result.errors)} bad "
                                   f"row{'' if len(result.errors) == 1 else 's'}.")
    click.echo(f"Imported {file.name}: {result.summary()}")


@click.command("export-shipments")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First store day, YYYY-MM-DD (default: no limit).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last store day, YYYY-MM-DD (default: no limit).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="File to write (default: standard output).")
def export_shipments(since, until, output):
    """Write the shipping confirmation file (Amazon's OrderFulfillment template) for the shipments
    confirmed on the store days since..until, both included."""
    from .reports import shipping_confirmations
    text, rows = shipping_confirmations(since and since.date(), until and until.date())
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8", newline="")
    click.echo(f"Wrote {rows} rows to {output}.")


def init_app(app):
    for command in (create_user, seed_demo, import_orders, export_shipments):
        app.cli.add_command(command)
