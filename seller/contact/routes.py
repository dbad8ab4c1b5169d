"""Contact buyer (Subject, Message, Send message): kept in the order's history, then e-mailed when SMTP is set."""
from flask import flash
from flask_login import current_user

from .. import mail, panels, workflow
from ..auth import requires
from ..forms.returns import ContactForm
from ..i18n import _
from ..lookup import get_order, get_return
from ..models import Order, ReturnRequest
from . import bp


def contact_page(subject, order: Order, ret: ReturnRequest | None):
    """Keep the message in the history (committed), then e-mail it; SMTP trouble only warns."""
    form = ContactForm()
    status = 200
    if not form.is_submitted():
        form.subject.data = (_("Your return for order %(order_id)s", order_id=order.order_id) if ret
                             else _("Your order %(order_id)s", order_id=order.order_id))
    else:
        status = 422
        if form.validate():
            try:
                message = workflow.contact_buyer(order, current_user, form.subject.data, form.message.data,
                                                 ret=ret)
            except workflow.WorkflowError as exc:
                status = panels.refuse(form, exc)
            else:
                sent = mail.deliver(message)
                if sent:
                    return panels.done(subject, _("Message e-mailed to %(buyer)s.",
                                                  buyer=order.buyer_name or _("the buyer")))
                if sent is False:
                    flash(mail.not_sent(), "warning")
                    return panels.done(subject, _("Message saved in the order's history."), "info")
                return panels.done(subject, _("Message saved in the order's history (e-mail is not set up here, "
                                              "so it was not sent)."), "info")
    return panels.form_response("contact/_form.html", subject, status=status, form=form, order=order, ret=ret,
                                title=_("Contact buyer · order %(order_id)s", order_id=order.order_id),
                                action=workflow.action("contact_buyer", subject).url(subject))


@bp.route("/orders/<order_id>/contact", methods=["GET", "POST"])
@requires("contact_buyer")
def order(order_id):
    """Contact buyer about an order. htmx: in the order's panel, then the done answer; otherwise its own page,
    then 303 back."""
    found = get_order(order_id)
    return contact_page(found, found, None)


@bp.route("/returns/<int:return_id>/contact", methods=["GET", "POST"])
@requires("contact_buyer")
def about_return(return_id):
    """Contact buyer about a return request: answers as `order`, with the return's row."""
    ret = get_return(return_id)
    return contact_page(ret, ret.order, ret)
