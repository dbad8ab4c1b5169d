"""The data: orders as Amazon reports them, and everything done to them.

Money is kept as integer cents (`*_cents`) and handled as `Decimal` in code (see `money.py`).
Times are stored in UTC (naive `datetime`s that mean UTC) and shown in the store's timezone.
"""
from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from flask import g, has_request_context
from flask_login import UserMixin
from sqlalchemy import (
    DDL, JSON, Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
    UniqueConstraint, and_, event, exists, or_,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from . import clock
from .i18n import N_
from .extensions import db


def _now() -> datetime:
    """Column default: `clock.now()`, looked up at each call (so a patched clock counts)."""
    return clock.now()


class OrderStatus(enum.StrEnum):
    PENDING = N_("Pending")
    UNSHIPPED = N_("Unshipped")
    SHIPPED = N_("Shipped")
    CANCELED = N_("Canceled")


class ReturnStatus(enum.StrEnum):
    PENDING_AUTHORIZATION = N_("Pending Authorization")
    AUTHORIZED = N_("Authorized")
    COMPLETED = N_("Completed")
    CLOSED = N_("Closed")


def _enum_values(e):
    return ", ".join(f"'{m.value}'" for m in e)


def _postgresql_only(index: Index) -> Index:
    """An index only PostgreSQL builds (its migration creates it there alone; SQLite keeps its plain scans)."""
    index.info["dialect"] = "postgresql"
    return index.ddl_if(dialect="postgresql")


def _trigram(name: str, column: str) -> Index:
    """A pg_trgm GIN index, which PostgreSQL uses for "contains" (ILIKE '%...%')."""
    return _postgresql_only(Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}))


def only_this_database(dialect: str):
    """Alembic's `include_object` for comparing a database with the models: the indexes that only another
    database builds (the trigram ones on SQLite) are left out."""
    return lambda obj, name, type_, reflected, compare_to: obj.info.get("dialect", dialect) == dialect


# The trigram indexes need the extension (trusted: a database owner may create it).
event.listen(db.Model.metadata, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('owner', 'staff')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on sign-out and password change: every cookie carrying the old value stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    # The language this person chose (English / 中文): "en", "zh_Hans", or "" for their browser's.
    language: Mapped[str] = mapped_column(String(10), default="")

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Flask-Login's alternative token: the id and the session version together."""
        return f"{self.id}:{self.session_version}"


class Settings(db.Model):
    """The store's settings: one row."""
    __tablename__ = "settings"
    __table_args__ = (
        CheckConstraint("handling_hours BETWEEN 1 AND 720", name="handling_hours"),
        CheckConstraint("slip_size IN ('letter', '4x6')", name="slip_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_name: Mapped[str] = mapped_column(String(100), default="My Store")
    seller_name: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    handling_hours: Mapped[int] = mapped_column(Integer, default=48)
    handling_business_days: Mapped[bool] = mapped_column(Boolean, default=False)
    return_address: Mapped[str] = mapped_column(Text, default="")
    # Return shipping concession cap: factor x the order's shipping charge + a fixed amount.
    return_concession_factor: Mapped[int] = mapped_column(Integer, default=2)
    return_concession_extra_cents: Mapped[int] = mapped_column(Integer, default=1000)
    # Other concessions cap, in percent of the order's item total.
    other_concession_percent: Mapped[int] = mapped_column(Integer, default=100)
    slip_size: Mapped[str] = mapped_column(String(10), default="letter")
    # Buy shipping: where parcels leave from, and the demo provider's rate table.
    ship_from_name: Mapped[str] = mapped_column(String(100), default="")
    ship_from_street1: Mapped[str] = mapped_column(String(100), default="")
    ship_from_street2: Mapped[str] = mapped_column(String(100), default="")
    ship_from_city: Mapped[str] = mapped_column(String(60), default="")
    ship_from_state: Mapped[str] = mapped_column(String(30), default="")
    ship_from_zip: Mapped[str] = mapped_column(String(20), default="")
    ship_from_country: Mapped[str] = mapped_column(String(2), default="US")
    ship_from_phone: Mapped[str] = mapped_column(String(30), default="")
    demo_rates: Mapped[str] = mapped_column(Text, default="")
    # Pack & ship's Buy shipping: the parcel most orders go in, as typed (digits; weight in parcel_weight_unit).
    parcel_weight: Mapped[str] = mapped_column(String(12), default="")
    parcel_weight_unit: Mapped[str] = mapped_column(String(2), default="lb")
    parcel_length: Mapped[str] = mapped_column(String(12), default="")
    parcel_width: Mapped[str] = mapped_column(String(12), default="")
    parcel_height: Mapped[str] = mapped_column(String(12), default="")
    # When the shipping confirmation file was last exported: the next export starts from there.
    shipments_exported_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    # Authorized return requests with nothing received this many days after authorization close by themselves.
    close_returns_after_days: Mapped[int] = mapped_column(Integer, default=30)
    # A new refund stays Pending this many hours (Cancel refund undoes it meanwhile); 0: final at once.
    refund_window_hours: Mapped[int] = mapped_column(Integer, default=2)

    @classmethod
    def defaults(cls) -> Settings:
        return cls(id=1, **{c.key: c.default.arg for c in cls.__table__.columns
                            if c.default is not None and c.key != "id"})

    @classmethod
    def current(cls) -> Settings:
        """The saved settings, or before anything was saved the defaults (reading never writes).

        A request reads the row once: it is kept in `g`, detached, so that the request's own commits and
        rollbacks don't make it read again (`save_settings` drops it)."""
        if has_request_context() and "store_settings" in g:
            return g.store_settings
        row = db.session.get(cls, 1) or cls.defaults()
        if has_request_context():
            if row in db.session:
                db.session.expunge(row)
            g.store_settings = row
        return row


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_enum_values(OrderStatus)})", name="status"),
        CheckConstraint("refunded_cents >= 0 AND refunded_cents <= paid_cents", name="refunded_within_paid"),
        CheckConstraint("paid_cents >= 0", name="paid_not_negative"),
        CheckConstraint("return_concession_cents >= 0 AND other_concession_cents >= 0", name="concessions"),
        # A page's ids come from these alone (filter and sort columns, then the id as tie-break).
        Index("ix_orders_purchased_at_id", "purchased_at", "id", postgresql_include=["status"]),  # and counts
        Index("ix_orders_status_purchased_at", "status", "purchased_at", "id"),
        Index("ix_orders_ship_by", "ship_by"),
        Index("ix_orders_shipped_at_late", "shipped_at", "late"),  # Late Shipment Rate per day
        Index("ix_orders_status_ship_by", "status", "ship_by", "id"),  # and orders at risk of shipping late
        Index("ix_orders_buyer_email", "buyer_email"),
        Index("ix_orders_buyer_name", "buyer_name"),
        _trigram("ix_orders_order_id_trgm", "order_id"),
        _trigram("ix_orders_buyer_name_trgm", "buyer_name"),
        _trigram("ix_orders_ship_service_level_trgm", "ship_service_level"),  # equal, case aside
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), unique=True)  # Amazon's, e.g. 113-1234567-1234567
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.UNSHIPPED.value)
    # Bumped by every state change: the guard's compare-and-set and the stale-page check.
    version: Mapped[int] = mapped_column(Integer, default=1)
    purchased_at: Mapped[datetime] = mapped_column(DateTime)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    promise_at: Mapped[datetime | None] = mapped_column(DateTime)  # the report's promise-date
    ship_by: Mapped[datetime] = mapped_column(DateTime)  # latest ship date
    buyer_email: Mapped[str] = mapped_column(String(254), default="")
    buyer_name: Mapped[str] = mapped_column(String(200), default="")
    buyer_phone: Mapped[str] = mapped_column(String(50), default="")
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    ship_address_1: Mapped[str] = mapped_column(String(200), default="")
    ship_address_2: Mapped[str] = mapped_column(String(200), default="")
    ship_address_3: Mapped[str] = mapped_column(String(200), default="")
    ship_city: Mapped[str] = mapped_column(String(100), default="")
    ship_state: Mapped[str] = mapped_column(String(100), default="")
    ship_postal_code: Mapped[str] = mapped_column(String(30), default="")
    ship_country: Mapped[str] = mapped_column(String(2), default="US")
    ship_phone: Mapped[str] = mapped_column(String(50), default="")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    ship_service_level: Mapped[str] = mapped_column(String(50), default="Standard")
    is_business_order: Mapped[bool] = mapped_column(Boolean, default=False)
    purchase_order_number: Mapped[str] = mapped_column(String(100), default="")
    # False when only the Unshipped Orders Report (no prices) has been imported: not refundable.
    amounts_known: Mapped[bool] = mapped_column(Boolean, default=True)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)  # items + shipping + taxes
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)  # of paid_cents, concessions apart
    return_concession_cents: Mapped[int] = mapped_column(Integer, default=0)
    other_concession_cents: Mapped[int] = mapped_column(Integer, default=0)
    # Until when one of its refunds is still Pending (Cancel refund possible): read with the row, no query.
    refund_pending_until: Mapped[datetime | None] = mapped_column(DateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # shipment confirmed after ship_by
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime)  # when the shipment was first confirmed
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now, onupdate=_now)

    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id")
    shipments: Mapped[list[Shipment]] = relationship(back_populates="order", order_by="Shipment.id")
    events: Mapped[list[OrderEvent]] = relationship(back_populates="order", order_by="OrderEvent.id")
    cancellation: Mapped[Cancellation | None] = relationship(back_populates="order")
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", order_by="Refund.id")
    returns: Mapped[list[ReturnRequest]] = relationship(back_populates="order", order_by="ReturnRequest.id")
    amazon_messages: Mapped[list[AmazonMessage]] = relationship(order_by="AmazonMessage.id", viewonly=True)

    @hybrid_method
    def is_late(self, now: datetime) -> bool:
        """Confirmed late, or still Unshipped past Ship by (in SQL too: `Order.is_late(now)`)."""
        return self.late or (self.status == OrderStatus.UNSHIPPED and now > self.ship_by)

    @is_late.expression
    def is_late(cls, now: datetime):
        return or_(cls.late, and_(cls.status == OrderStatus.UNSHIPPED.value, cls.ship_by < now))

    @property
    def is_late_now(self) -> bool:
        return self.is_late(clock.now())

    @property
    def has_label(self) -> bool:
        """Whether a label was bought for this order (it can be printed again)."""
        return any(s.has_label for s in self.shipments)

    @property
    def packages(self) -> list[Shipment]:
        """The packages in force, every confirmation's (replaced ones stay in `shipments`)."""
        return [s for s in self.shipments if s.superseded_at is None]

    @property
    def amazon_state(self) -> str | None:
        """What Amazon has heard of this order's actions: "refused" (any refused), "waiting", "sent", or None."""
        states = {m.state for m in self.amazon_messages}
        return next((s for s in ("refused", "waiting", "sent") if s in states), None)

    @property
    def amazon_refusals(self) -> list[AmazonMessage]:
        return [m for m in self.amazon_messages if m.state == "refused"]

    @property
    def shipment(self) -> Shipment | None:
        """The last package in force."""
        current = self.packages
        return current[-1] if current else None

    @property
    def partially_shipped(self) -> bool:
        """Unshipped with some items already in confirmed packages: the rest is still to ship."""
        return self.status == OrderStatus.UNSHIPPED and bool(self.packages)

    def shipped_quantities(self) -> dict[int, int]:
        """Units of each item (by `OrderItem.id`) in the packages in force."""
        return units_in(self.packages)

    @property
    def slip_lines(self) -> list[tuple[OrderItem, int]]:
        """What a packing slip lists: every item, or of a partially shipped order what is left to ship."""
        return self.left_to_ship if self.partially_shipped else [(item, item.quantity) for item in self.items]

    @property
    def left_to_ship(self) -> list[tuple[OrderItem, int]]:
        """Each item with units not yet in a package, and how many."""
        shipped = self.shipped_quantities()
        return [(item, item.quantity - shipped.get(item.id, 0)) for item in self.items
                if item.quantity > shipped.get(item.id, 0)]


class OrderItem(db.Model):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("item_price_cents >= 0 AND item_tax_cents >= 0 AND shipping_price_cents >= 0 "
                        "AND shipping_tax_cents >= 0", name="amounts"),
        CheckConstraint("refunded_item_cents BETWEEN 0 AND item_price_cents", name="refunded_item"),
        CheckConstraint("refunded_item_tax_cents BETWEEN 0 AND item_tax_cents", name="refunded_item_tax"),
        CheckConstraint("refunded_shipping_cents BETWEEN 0 AND shipping_price_cents", name="refunded_shipping"),
        CheckConstraint("refunded_shipping_tax_cents BETWEEN 0 AND shipping_tax_cents",
                        name="refunded_shipping_tax"),
        Index("ix_order_items_sku", "sku", "order_id"),  # a SKU's orders from the index alone
        Index("ix_order_items_order_id", "order_id"),
        _trigram("ix_order_items_sku_trgm", "sku"),
        _trigram("ix_order_items_product_name_trgm", "product_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    order_item_id: Mapped[str] = mapped_column(String(40), unique=True)
    sku: Mapped[str] = mapped_column(String(100))
    product_name: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    # Totals for the row's quantity, as Amazon writes them.
    item_price_cents: Mapped[int] = mapped_column(Integer, default=0)
    item_tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    shipping_price_cents: Mapped[int] = mapped_column(Integer, default=0)
    shipping_tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    refunded_item_cents: Mapped[int] = mapped_column(Integer, default=0)
    refunded_item_tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    refunded_shipping_cents: Mapped[int] = mapped_column(Integer, default=0)
    refunded_shipping_tax_cents: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="items")

    @property
    def paid_cents(self) -> int:
        return self.item_price_cents + self.item_tax_cents + self.shipping_price_cents + self.shipping_tax_cents

    @property
    def refunded_cents(self) -> int:
        return (self.refunded_item_cents + self.refunded_item_tax_cents + self.refunded_shipping_cents
                + self.refunded_shipping_tax_cents)


class Shipment(db.Model):
    """A package: carrier, service and tracking ID, and the items it holds (`items`). One confirmation (Confirm
    shipment, Buy shipping) ships one or more packages under the same `confirmation` number; Edit shipment
    supersedes that confirmation's packages with new rows under the same number."""
    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_tracking_id", "tracking_id"), Index("ix_shipments_order_id", "order_id"),
                      Index("ix_shipments_confirmed_at", "confirmed_at"),
                      # Valid Tracking Rate per day: the shipments in force by day, answered from the index alone
                      Index("ix_shipments_current_tracking", "superseded_at", "confirmed_at", "tracking_valid",
                            "carrier"),
                      _trigram("ix_shipments_tracking_id_trgm", "tracking_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(String(50))
    carrier_name: Mapped[str] = mapped_column(String(100), default="")  # with carrier "Other"
    shipping_service: Mapped[str] = mapped_column(String(100), default="")
    tracking_id: Mapped[str] = mapped_column(String(100), default="")
    tracking_valid: Mapped[bool] = mapped_column(Boolean, default=True)  # matches the carrier's format
    ship_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The order's confirmations are numbered 1, 2, ... (a partial shipment, then the rest).
    confirmation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    order: Mapped[Order] = relationship(back_populates="shipments")
    confirmed_by: Mapped[User | None] = relationship()
    items: Mapped[list[ShipmentItem]] = relationship(back_populates="shipment", order_by="ShipmentItem.id")


def units_in(packages: list[Shipment]) -> dict[int, int]:
    """Units of each item (by `OrderItem.id`) these packages hold together."""
    held: dict[int, int] = {}
    for package in packages:
        for line in package.items:
            held[line.order_item_id] = held.get(line.order_item_id, 0) + line.quantity
    return held


class ShipmentItem(db.Model):
    """Units of one order item in one package."""
    __tablename__ = "shipment_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),
                      Index("ix_shipment_items_shipment_id", "shipment_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)

    shipment: Mapped[Shipment] = relationship(back_populates="items")
    item: Mapped[OrderItem] = relationship()


class Label(db.Model):
    """A postage label bought through Buy shipping, kept in the database (platform disks are wiped)."""
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("order_id", "idempotency_key", name="uq_labels_order_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(20))
    provider_shipment_id: Mapped[str] = mapped_column(String(100), default="")
    carrier: Mapped[str] = mapped_column(String(50))
    service: Mapped[str] = mapped_column(String(100))
    cost_cents: Mapped[int] = mapped_column(Integer)
    tracking_id: Mapped[str] = mapped_column(String(100))
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# Whether the shipment came with a bought label: read with the shipment itself, no query of its own.
Shipment.has_label = column_property(exists().where(Label.order_id == Shipment.order_id,
                                                    Label.shipment_id == Shipment.id))


class PackSession(db.Model):
    """An order being packed on Pack & ship: who is packing it, since when, and the units checked per line.

    One per order, made by Scan order and dropped when the order ships or is canceled. `counts` maps an order
    item's id (as text) to the units checked; `last_code`/`last_scan_at` let a scanner's double read count once."""
    __tablename__ = "pack_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    packer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    last_code: Mapped[str] = mapped_column(String(100), default="")
    last_scan_at: Mapped[datetime | None] = mapped_column(DateTime)

    packer: Mapped[User | None] = relationship()


class Cancellation(db.Model):
    """A pre-fulfillment cancellation."""
    __tablename__ = "cancellations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(String(50))
    memo: Mapped[str] = mapped_column(Text, default="")
    canceled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    canceled_at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)

    order: Mapped[Order] = relationship(back_populates="cancellation")
    canceled_by: Mapped[User | None] = relationship()


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("order_id", "idempotency_key", name="uq_refunds_order_key"),
        CheckConstraint("kind IN ('full', 'partial')", name="kind"),
        CheckConstraint("total_cents > 0", name="total_positive"),
        CheckConstraint("return_concession_cents >= 0 AND other_concession_cents >= 0", name="concessions"),
        CheckConstraint("status IN ('pending', 'final', 'canceled')", name="status"),
        Index("ix_refunds_status_final_at", "status", "final_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    return_request_id: Mapped[int | None] = mapped_column(ForeignKey("return_requests.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # what was asked: a replay must ask the same
    kind: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(50))
    memo_to_buyer: Mapped[str] = mapped_column(Text, default="")
    seller_memo: Mapped[str] = mapped_column(Text, default="")
    return_concession_cents: Mapped[int] = mapped_column(Integer, default=0)
    other_concession_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer)  # lines + concessions
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    # Pending until `final_at` (the Settings refund window), then final; or canceled within the window.
    status: Mapped[str] = mapped_column(String(10), default="final", server_default="final")
    final_at: Mapped[datetime | None] = mapped_column(DateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime)
    canceled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The return requests this refund completed, with the status each had before (Cancel refund restores it).
    reverts: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")

    order: Mapped[Order] = relationship(back_populates="refunds")
    lines: Mapped[list[RefundLine]] = relationship(back_populates="refund", order_by="RefundLine.id")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    def is_pending(self, now: datetime | None = None) -> bool:
        """Still within its window: Cancel refund can undo it (past `final_at` it is final, whatever the row says
        until the worker records it)."""
        return self.status == "pending" and self.final_at is not None and (now or clock.now()) < self.final_at

    @property
    def shown_status(self) -> str:
        """Pending, Final or Canceled, as the order page says it."""
        return "Canceled" if self.status == "canceled" else "Pending" if self.is_pending() else "Final"


class RefundLine(db.Model):
    __tablename__ = "refund_lines"
    __table_args__ = (
        CheckConstraint("item_cents >= 0 AND item_tax_cents >= 0 AND shipping_cents >= 0 "
                        "AND shipping_tax_cents >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"), index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id"))
    item_cents: Mapped[int] = mapped_column(Integer, default=0)
    item_tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    shipping_cents: Mapped[int] = mapped_column(Integer, default=0)
    shipping_tax_cents: Mapped[int] = mapped_column(Integer, default=0)

    refund: Mapped[Refund] = relationship(back_populates="lines")
    item: Mapped[OrderItem] = relationship()

    @property
    def total_cents(self) -> int:
        return self.item_cents + self.item_tax_cents + self.shipping_cents + self.shipping_tax_cents


class ReturnRequest(db.Model):
    __tablename__ = "return_requests"
    __table_args__ = (
        CheckConstraint(f"status IN ({_enum_values(ReturnStatus)})", name="status"),
        CheckConstraint("refund_timing IN ('now', 'after_receipt')", name="refund_timing"),
        Index("ix_return_requests_status_created_at", "status", "created_at"),
        Index("ix_return_requests_created_at_id", "created_at", "id"),  # the All tab, newest first
        Index("ix_return_requests_status_authorized_at", "status", "authorized_at"),  # close-stale-returns
        UniqueConstraint("order_id", "amazon_rma_id", name="uq_return_requests_order_amazon_rma"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(30), default=ReturnStatus.PENDING_AUTHORIZATION.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(100))
    rma_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    return_address: Mapped[str] = mapped_column(Text, default="")
    refund_timing: Mapped[str] = mapped_column(String(20), default="after_receipt")
    close_reason: Mapped[str] = mapped_column(String(100), default="")
    close_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    authorized_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)  # the last Mark received
    received_note: Mapped[str] = mapped_column(Text, default="")
    amazon_rma_id: Mapped[str | None] = mapped_column(String(40))  # from Amazon's returns report (Import returns)
    label_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # the return label given to the buyer

    order: Mapped[Order] = relationship(back_populates="returns")
    items: Mapped[list[ReturnItem]] = relationship(back_populates="return_request", order_by="ReturnItem.id")

    @property
    def closes_at(self) -> datetime | None:
        """When close-stale-returns closes this request if nothing is received by then (None: it won't)."""
        if self.status != ReturnStatus.AUTHORIZED or self.received_at is not None or self.authorized_at is None:
            return None
        return self.authorized_at + timedelta(days=Settings.current().close_returns_after_days)


class ReturnItem(db.Model):
    __tablename__ = "return_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),
                      CheckConstraint("received_quantity BETWEEN 0 AND quantity", name="received_quantity"))

    id: Mapped[int] = mapped_column(primary_key=True)
    return_request_id: Mapped[int] = mapped_column(ForeignKey("return_requests.id", ondelete="CASCADE"), index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    received_quantity: Mapped[int] = mapped_column(Integer, default=0)
    condition: Mapped[str] = mapped_column(String(20), default="")  # Mark received: Sellable, Damaged, ...

    return_request: Mapped[ReturnRequest] = relationship(back_populates="items")
    item: Mapped[OrderItem] = relationship()


# Whether a return label was given with the authorization: read with the row, the PDF itself stays deferred.
ReturnRequest.has_label = column_property(ReturnRequest.__table__.c.label_pdf.isnot(None))


class Message(db.Model):
    """A message to the buyer (Contact buyer)."""
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    return_request_id: Mapped[int | None] = mapped_column(ForeignKey("return_requests.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime)


class OrderEvent(db.Model):
    """The order's history: every action, who did it, when, and its details."""
    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    return_request_id: Mapped[int | None] = mapped_column(ForeignKey("return_requests.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(50))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    order: Mapped[Order] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()


class SetupCode(db.Model):
    """The one-time code `serve` prints on a desk without an owner: whoever types it creates the owner account.
    Only its hash is kept; claiming deletes it (seller/setup.py)."""
    __tablename__ = "setup_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class RateLimit(db.Model):
    """Fixed-window counters of the sign-in and setup limits, shared by every worker (seller/ratelimit.py)."""
    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class AmazonConnection(db.Model):
    """The seller's Selling Partner API connection: one row. The LWA client secret and the refresh token are
    kept encrypted (`amazon.secrets`), never in clear; the sync's progress beside them."""
    __tablename__ = "amazon_connection"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(40), default="")
    marketplace_id: Mapped[str] = mapped_column(String(20), default="ATVPDKIKX0DER")  # Amazon US
    client_id: Mapped[str] = mapped_column(String(200), default="")
    client_secret_sealed: Mapped[str] = mapped_column(Text, default="")
    refresh_token_sealed: Mapped[str] = mapped_column(Text, default="")
    first_sync_days: Mapped[int] = mapped_column(Integer, default=30)  # how far back the first sync reaches
    saved_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The start of the last pull that finished: the next one asks for orders updated since (minus an overlap).
    synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    sync_result: Mapped[str] = mapped_column(Text, default="")  # what the last pull did, or why it failed
    sync_failed: Mapped[bool] = mapped_column(Boolean, default=False)


class AmazonMessage(db.Model):
    """The outbox: what an action must tell Amazon, written in the action's own transaction; the worker
    sends it (`amazon.push`). `key` is unique per message, so nothing is written (or sent) twice."""
    __tablename__ = "amazon_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('waiting', 'sent', 'refused')", name="state"),
        CheckConstraint("kind IN ('confirm_shipment', 'cancel_order', 'refund')", name="kind"),
        Index("ix_amazon_outbox_state_due", "state", "due_at"),
        Index("ix_amazon_outbox_order_id", "order_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # also the feed's MessageID
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(80), unique=True)  # e.g. shipment:12, cancel:7, refund:3
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="waiting")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(DateTime, default=_now)  # not tried again before
    error: Mapped[str] = mapped_column(Text, default="")  # Amazon's message (refused) or the last failure
    # A feed in flight: its document (set before the upload), then the feed Amazon made of it.
    feed_document_id: Mapped[str] = mapped_column(String(200), default="")
    feed_id: Mapped[str] = mapped_column(String(40), default="")
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    order: Mapped[Order] = relationship(overlaps="amazon_messages")


class WorkerLock(db.Model):
    """Who runs the Amazon loop (SQLite; PostgreSQL uses an advisory lock): a lease renewed while it runs."""
    __tablename__ = "worker_locks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime] = mapped_column(DateTime)
