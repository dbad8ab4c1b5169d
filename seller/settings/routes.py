"""Settings (owner): the store's settings and the people who can sign in."""
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import users
from ..auth import requires
from ..db import write_transaction
from ..extensions import db
from ..forms.common import ActionForm
from ..forms.settings import SettingsForm, UserForm
from ..models import Settings, User
from ..money import from_cents, to_cents
from ..workflow import save_settings
from . import bp

PLAIN = ["store_name", "seller_name", "timezone", "handling_hours", "handling_business_days", "return_address",
         "return_concession_factor", "other_concession_percent", "slip_size", "ship_from_name", "ship_from_street1",
         "ship_from_street2", "ship_from_city", "ship_from_state", "ship_from_zip",
         "ship_from_phone", "demo_rates"]


def _page(form, user_form, status=200):
    people = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    return render_template("settings/index.html", form=form, user_form=user_form, people=people,
                           action_form=ActionForm()), status


@bp.route("", methods=["GET", "POST"])
@requires("settings")
def index():
    """The store's settings. Saving redirects back here with a message; errors come back next to the fields."""
    row = Settings.current()
    form = SettingsForm(obj=row)
    if not form.is_submitted():
        form.return_concession_extra.data = from_cents(row.return_concession_extra_cents)
    if form.validate_on_submit():
        save_settings(**{name: getattr(form, name).data for name in PLAIN},
                      ship_from_country=form.ship_from_country.data.upper(),
                      return_concession_extra_cents=to_cents(form.return_concession_extra.data))
        flash("Settings saved.", "success")
        return redirect(url_for("settings.index"), 303)
    return _page(form, UserForm(prefix="user"), 422 if form.errors else 200)


@bp.post("/users")
@requires("settings")
def add_user():
    """Add a person who can sign in (owner or staff)."""
    user_form = UserForm(prefix="user")
    if user_form.validate_on_submit():
        try:
            users.create(user_form.email.data, user_form.password.data, user_form.role.data)
        except ValueError as exc:
            user_form.email.errors.append(str(exc))
        else:
            flash(f"{user_form.email.data} can now sign in as {user_form.role.data}.", "success")
            return redirect(url_for("settings.index") + "#people", 303)
    return _page(SettingsForm(obj=Settings.current()), user_form, 422)


@bp.post("/users/<int:user_id>/active")
@requires("settings")
def toggle_user(user_id):
    """Turn a person's access off (their sessions end at once) or back on. Nobody turns themself off."""
    if not ActionForm().validate_on_submit():
        abort(400)
    user = db.session.get(User, user_id) or abort(404)
    if user.id == current_user.id:
        flash("You cannot turn off your own access.", "error")
        return redirect(url_for("settings.index") + "#people", 303)
    with write_transaction(db.session):
        user = db.session.get(User, user_id)
        user.active = not user.active
        user.session_version += 1
    flash(f"{user.email} {'can sign in again' if user.active else 'can no longer sign in'}.", "success")
    return redirect(url_for("settings.index") + "#people", 303)
