"""`flask --app app ...` commands (contract §2)."""
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


def init_app(app):
    for command in (create_user, seed_demo):
        app.cli.add_command(command)
