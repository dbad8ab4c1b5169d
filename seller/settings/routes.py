"""Settings (owner): the store's settings and the people who can sign in."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import users, workflow
from ..auth import requires
from ..db import write_transaction
from ..extensions import db
from ..forms.common import ActionForm
from ..forms.settings import AmazonConnectionForm, SettingsForm, UserForm
from ..i18n import _
from ..models import AmazonConnection, Settings, User
from ..money import from_cents, to_cents
from ..workflow import save_settings
from . import bp
from ..i18n import _

PLAIN = ["store_name", "seller_name", "timezone", "handling_hours", "handling_business_days", "return_address",
         "return_concession_factor", "other_concession_percent", "close_returns_after_days", "refund_window_hours",
         "slip_size", "ship_from_name", "ship_from_street1", "ship_from_street2", "ship_from_city", "ship_from_state",
         "ship_from_zip", "ship_from_phone", "demo_rates"]


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
        plain = {name: getattr(form, name).data for name in PLAIN}
        save_settings(**{name: value for name, value in plain.items() if value is not None},  # blank: unchanged
                      **{name: "" if form[name].data is None else str(form[name].data) for name in form.PARCEL},
                      parcel_weight_unit=form.parcel_weight_unit.data,
                      ship_from_country=form.ship_from_country.data.upper(),
                      return_concession_extra_cents=to_cents(form.return_concession_extra.data))
        flash(_("Settings saved."), "success")
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
            flash(_("%(email)s can now sign in as %(role)s.", email=user_form.email.data, role=_(user_form.role.data)),
                  "success")
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
        flash(_("You cannot turn off your own access."), "error")
        return redirect(url_for("settings.index") + "#people", 303)
    with write_transaction(db.session):
        user = db.session.get(User, user_id)
        user.active = not user.active
        user.session_version += 1
    flash(_("%(email)s can sign in again.", email=user.email) if user.active else
          _("%(email)s can no longer sign in.", email=user.email), "success")
    return redirect(url_for("settings.index") + "#people", 303)


AMAZON_FIELDS = ["seller_id", "marketplace_id", "client_id", "first_sync_days"]


@bp.route("/amazon", methods=["GET", "POST"])
@requires("settings")
def amazon():
    """Settings → Amazon connection: Save connection, Test connection, Sync now. Secrets are never shown back:
    an empty secret field keeps the saved one."""
    # Amazon's client (its SDK, requests, cryptography) loads on this page, not at every start
    from ..amazon import connection, worker
    from ..amazon.connection import demo_mode
    from ..amazon.secrets import seal, unseal
    saved = db.session.get(AmazonConnection, 1)
    form = AmazonConnectionForm(obj=saved)
    status = 200
    if form.validate_on_submit():
        todo = request.form.get("do", "save")
        secrets = {}
        for name in ("client_secret", "refresh_token"):
            typed, kept = getattr(form, name).data, saved and unseal(getattr(saved, name + "_sealed"))
            secrets[name + "_sealed"] = seal(typed) if typed else getattr(saved, name + "_sealed") if kept else ""
            if not typed and not kept:
                getattr(form, name).errors.append(_("Enter the %(field)s.", field=getattr(form, name).label.text))
        typed_row = AmazonConnection(**{name: getattr(form, name).data for name in AMAZON_FIELDS}, **secrets)
        if form.client_secret.errors or form.refresh_token.errors:
            status = 422
        elif demo_mode():
            flash(_("This is a demo desk: it cannot connect to a real Amazon account."), "error")
            status = 422
        elif todo == "test":
            ok, message = connection.check(typed_row)
            flash(message, "success" if ok else "error")
            status = 200 if ok else 422
        elif todo == "sync":
            if saved is None or not saved.seller_id:
                flash(_("Save the connection first."), "error")
                status = 422
            else:
                ok, message = worker.run_once()
                flash(message, "success" if ok else "error")
                return redirect(url_for("settings.amazon"), 303)
        else:
            workflow.save_amazon_connection(**{name: getattr(typed_row, name) for name in AMAZON_FIELDS},
                                            **secrets)
            flash(_("Amazon connection saved. Orders arrive by themselves from now on."), "success")
            return redirect(url_for("settings.amazon"), 303)
    elif form.errors:
        status = 422
    return render_template("settings/amazon.html", form=form, saved=connection.current(),
                           problem=connection.problem(saved) if saved and saved.seller_id else None), status
