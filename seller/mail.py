"""E-mail to buyers through SMTP, after the message is safely kept.

A message to the buyer is first written to the order's history by its workflow verb (and committed);
only then does the view hand it to `deliver`. SMTP being down never undoes or fails the action:
the message stays in the history, unsent, and the view warns the seller."""
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from sqlalchemy import update

from . import clock
from .db import write_transaction
from .extensions import db
from .i18n import _
from .models import Message, Order
from .templating import store_settings

log = logging.getLogger(__name__)
TIMEOUT = 10  # seconds; a tablet should not wait longer on a mail server


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def _email(message: Message, order: Order, attachments=()) -> EmailMessage:
    cfg = current_app.config
    sender = cfg["MAIL_FROM"] or cfg["SMTP_USERNAME"] or "seller-desk@localhost"
    mail = EmailMessage()
    mail["From"] = formataddr((store_settings().store_name, sender))
    mail["To"] = formataddr((order.buyer_name, order.buyer_email))
    mail["Subject"] = message.subject
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(message.body)
    for filename, pdf in attachments:
        mail.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return mail


def _send(mail: EmailMessage) -> None:
    cfg = current_app.config
    host, port = cfg["SMTP_HOST"], cfg["SMTP_PORT"]
    if port == 465:
        smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
    with smtp:
        if port != 465 and cfg["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["SMTP_USERNAME"]:
            smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"])
        smtp.send_message(mail)


def deliver(message: Message | None, attachments=()) -> bool | None:
    """E-mail a committed message to the buyer (with `attachments`: (filename, PDF bytes)) and record `emailed_at`.

    None: nothing to do (no message, or SMTP not configured); True: sent; False: not sent (logged)."""
    if message is None or not configured():
        return None
    order = db.session.get(Order, message.order_id)
    if not order.buyer_email:
        log.warning("message %s not e-mailed: order %s has no buyer e-mail", message.id, order.order_id)
        return False
    try:
        _send(_email(message, order, attachments))
    except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, TLS or auth failed, bad address
        log.warning("message %s not e-mailed: %s", message.id, exc)
        return False
    with write_transaction(db.session):
        db.session.execute(update(Message).where(Message.id == message.id, Message.emailed_at.is_(None))
                           .values(emailed_at=clock.now()).execution_options(synchronize_session=False))
    db.session.refresh(message)
    return True


def deliver_all(message_ids: list[int]) -> int:
    """E-mail these committed messages (when SMTP is configured); returns how many could not be sent."""
    if not configured():
        return 0
    return sum(deliver(db.session.get(Message, message_id)) is False for message_id in message_ids)


def not_sent() -> str:
    """What the seller is told when a kept message could not be e-mailed."""
    return _("The message is kept in the order's history, but it could not be e-mailed (the mail server did not "
             "take it, or the order has no buyer e-mail). Write to the buyer through Seller Central.")
