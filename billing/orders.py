"""Idempotent order placement: the (tenant, idempotency key) unique constraint is the guard.
A replay of the same request returns the first order; the same key with a different request is
refused."""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from portal import clock
from portal.actors import recorded_actor
from portal.errors import DomainError
from portal.models import Notification, Tenant
from portal.services import admin_lock_enforce, audit_event_record, notification_create
from portal.texts import text

from .models import (
    BillingFrequency,
    BillingProfile,
    Channel,
    CreditCheck,
    LineKind,
    Order,
    PaymentMethod,
    Product,
    Status,
    Subscription,
)
from .payments import (
    CREDIT_CHECK_DEFAULT_REASON,
    credit_check_decide,
    credit_check_default_approves,
    credit_check_open,
    credit_check_required,
    invoice_allowed,
    invoice_minimum,
    order_bill,
)
from .pricing import (
    Line,
    lines_total,
    months_per_period,
    paid_through_for,
    period_charge,
    price_monthly,
)
from .services import subscription_create


def order_fingerprint(payload: dict) -> str:
    """What an order asks for, hashed: a replay of its idempotency key must ask for the same."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def order_get_or_create(
    *,
    tenant: Tenant,
    kind: str,
    idempotency_key: str,
    fingerprint: str,
    defaults: dict,
    actor,
) -> tuple[Order, bool]:
    """Returns (order, created). Must run inside the caller's transaction: the insert sits in
    a savepoint so that losing a race does not poison the caller's transaction."""
    existing = Order.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
    if existing is None:
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    tenant=tenant,
                    kind=kind,
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                    placed_by=recorded_actor(actor),
                    placed_at=clock.now(),
                    **defaults,
                )
            return order, True
        except IntegrityError:
            existing = Order.objects.get(tenant=tenant, idempotency_key=idempotency_key)
    if existing.request_fingerprint and existing.request_fingerprint != fingerprint:
        raise DomainError(
            _("This idempotency key was already used for a different order."),
            code="idempotency_key_reused",
        )
    return existing, False


# --- Buying a new subscription: cart -> checkout (frozen quote) -> place order ---------------


@dataclass(frozen=True)
class PurchaseCart:
    """What the admin wants to buy. Lives in the session between the flow's steps."""

    product_code: str
    quantity: int
    billing_frequency: str
    parent_id: int | None = None

    def as_json(self) -> dict:
        return {
            "product_code": self.product_code,
            "quantity": self.quantity,
            "billing_frequency": self.billing_frequency,
            "parent_id": self.parent_id,
        }

    @classmethod
    def from_json(cls, data: dict) -> "PurchaseCart":
        return cls(
            product_code=str(data["product_code"]),
            quantity=int(data["quantity"]),
            billing_frequency=str(data["billing_frequency"]),
            parent_id=int(data["parent_id"]) if data.get("parent_id") else None,
        )


def purchase_cart_check(
    *, tenant: Tenant, cart: PurchaseCart
) -> tuple[Product, Subscription | None]:
    """The product and (for an add-on) the base it attaches to, or a DomainError saying why
    this cart cannot be bought."""
    product = Product.objects.filter(code=cart.product_code).first()
    if product is None or not product.on_sale:
        raise DomainError(_("That product is not on sale."), code="not_on_sale")
    if cart.quantity < 1:
        raise DomainError(_("Buy at least one license."), code="invalid_quantity")
    if product.seat_cap is not None and cart.quantity > product.seat_cap:
        raise DomainError(
            _("%(product)s is limited to %(cap)d licenses.")
            % {"product": product.name, "cap": product.seat_cap},
            code="seat_cap",
        )
    if cart.billing_frequency not in BillingFrequency.values:
        raise DomainError(_("Choose monthly or yearly billing."), code="invalid_frequency")
    if not product.is_addon:
        if cart.parent_id:
            raise DomainError(_("A plan is not bought as an add-on."), code="invalid_parent")
        return product, None
    parent = (
        Subscription.objects.select_related("product")
        .filter(tenant=tenant, pk=cart.parent_id or 0, parent__isnull=True)
        .first()
    )
    if parent is None:
        raise DomainError(
            _("Add-ons are bought for a subscription: open it and use its Add-ons tab."),
            code="addon_needs_base",
        )
    if parent.status != Status.ACTIVE:
        raise DomainError(
            _("Add-ons can be bought only for an active subscription."), code="base_not_active"
        )
    if not parent.product.accepts.filter(pk=product.pk).exists():
        raise DomainError(
            _("%(base)s does not take the %(addon)s add-on.")
            % {"base": parent.product.name, "addon": product.name},
            code="addon_not_accepted",
        )
    return product, parent


def purchase_quote(*, tenant: Tenant, cart: PurchaseCart) -> dict:
    """The frozen pricing snapshot checkout shows and place order charges."""
    product, parent = purchase_cart_check(tenant=tenant, cart=cart)
    frequency = parent.billing_frequency if parent else cart.billing_frequency
    unit = price_monthly(product=product, currency=tenant.currency)
    amount = period_charge(unit_price=unit, quantity=cart.quantity, billing_frequency=frequency)
    months = months_per_period(frequency)
    line = Line(
        description=text(
            "billing.line.purchase",
            product=product.name,
            quantity=(
                text("billing.count.licenses", count=cart.quantity)
                if product.unit == "license"
                else text("billing.count.units", count=cart.quantity, unit=product.unit)
            ),
            count=months,
        ),
        quantity=cart.quantity,
        amount=amount,
        kind=LineKind.PURCHASE,
        unit_price=unit,
        period_start=clock.today(),
        period_end=paid_through_for(start=clock.today(), billing_frequency=frequency),
    )
    cart = PurchaseCart(
        product_code=product.code,
        quantity=cart.quantity,
        billing_frequency=frequency,
        parent_id=parent.pk if parent else None,
    )
    return {
        "cart": cart.as_json(),
        "product_name": product.name,
        "parent_name": parent.product.name if parent else "",
        "currency": tenant.currency,
        "unit_price": str(unit),
        "lines": [line.as_json()],
        "total": str(lines_total([line])),
        "frozen_at": clock.now().isoformat(),
    }


def purchase_payment_check(*, tenant: Tenant, total: Decimal, payment_method: str) -> None:
    profile = BillingProfile.objects.filter(tenant=tenant).first()
    if payment_method == PaymentMethod.INVOICE:
        if not invoice_allowed(
            total=total, invoice_eligible=bool(profile and profile.invoice_eligible)
        ):
            raise DomainError(
                _(
                    "Paying by invoice is available for orders of %(minimum)s %(currency)s or "
                    "more, for organisations approved for invoicing. Pay by card instead."
                )
                % {"minimum": invoice_minimum(), "currency": tenant.currency},
                code="invoice_not_allowed",
            )
    elif payment_method == PaymentMethod.CARD:
        if profile is None or not profile.has_card:
            raise DomainError(
                _("There is no card on file. Add a payment method first."), code="no_card"
            )
    else:
        raise DomainError(_("Choose how to pay."), code="invalid_payment_method")


def purchase_place(
    *,
    tenant: Tenant,
    actor,
    idempotency_key: str,
    snapshot: dict,
    payment_method: str,
    po_number: str = "",
) -> Order:
    """Place the order checkout showed. Replays (double click, a re-sent POST, a concurrent
    click) return the first order and make no second subscription. With a credit check the
    order waits (purchase_orders_advance completes it once decided); otherwise it is billed
    and the subscription created, in Provisioning, in the same transaction."""
    if not idempotency_key:
        raise DomainError(_("This checkout has expired. Open it again."), code="no_key")
    total = Decimal(snapshot["total"])
    fingerprint = order_fingerprint(
        {"snapshot": snapshot, "payment_method": payment_method, "po_number": po_number}
    )
    with transaction.atomic():
        order, created = order_get_or_create(
            tenant=tenant,
            kind=Order.Kind.PURCHASE,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            defaults={
                "currency": snapshot["currency"],
                "total": total,
                "payment_method": payment_method,
                "po_number": po_number,
                "snapshot": snapshot,
            },
            actor=actor,
        )
        if not created:
            return order
        # A replay above still gets its first order; a new one is refused on a locked tenant
        # (and its order row goes with the rollback).
        admin_lock_enforce(tenant=tenant, actor=actor)
        # Re-check now: the catalog or the base may have changed since checkout opened.
        purchase_cart_check(tenant=tenant, cart=PurchaseCart.from_json(snapshot["cart"]))
        purchase_payment_check(tenant=tenant, total=total, payment_method=payment_method)
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="order.place",
            target=f"order:{order.pk}",
            data={"kind": order.kind, "total": str(total), "payment_method": payment_method},
        )
        if credit_check_required(total=total, payment_method=payment_method):
            credit_check_open(order=order)
            return order
        _purchase_fulfil(order=order, actor=actor)
    return order


def _purchase_fulfil(*, order: Order, actor) -> Subscription:
    """Create the subscription and bill the order. Caller owns the transaction and the lock."""
    cart = PurchaseCart.from_json(order.snapshot["cart"])
    product, parent = purchase_cart_check(tenant=order.tenant, cart=cart)
    subscription = subscription_create(
        tenant=order.tenant,
        product=product,
        quantity=cart.quantity,
        billing_frequency=cart.billing_frequency,
        channel=Channel.DIRECT_INVOICE
        if order.payment_method == PaymentMethod.INVOICE
        else Channel.DIRECT_CARD,
        parent=parent,
        actor=actor,
        unit_price=Decimal(order.snapshot["unit_price"]),
    )
    lines = [
        Line.from_json(line).for_subscription(subscription.pk) for line in order.snapshot["lines"]
    ]
    order_bill(order=order, lines=lines)
    order.subscription = subscription
    order.state = Order.State.COMPLETED
    order.save(update_fields=["subscription", "state"])
    notification_create(
        tenant=order.tenant,
        message=text("billing.notify.setting_up", product=product.name),
        level=Notification.Level.SUCCESS,
        link=reverse("subscription_detail", args=[order.tenant.slug, subscription.pk]),
    )
    return subscription


def purchase_orders_advance() -> dict[str, int]:
    """Periodic: complete purchase orders whose credit check was approved, close those declined,
    and apply the configured default to checks nobody decided by their deadline. (Upgrade
    orders are the upgrade run's business and are left alone.)"""
    now = clock.now()
    done = {"completed": 0, "declined": 0, "failed": 0}
    waiting = list(
        Order.objects.filter(
            kind=Order.Kind.PURCHASE, state=Order.State.PLACED, credit_check__isnull=False
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in waiting:
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(of=("self",))
                .select_related("tenant")
                .filter(pk=pk, state=Order.State.PLACED)
                .first()
            )
            if order is None:
                continue
            check = CreditCheck.objects.select_for_update(of=("self",)).get(order=order)
            if check.state == CreditCheck.State.PENDING and check.deadline <= now:
                credit_check_decide(
                    credit_check=check,
                    approve=credit_check_default_approves(),
                    actor=None,
                    reason=text(CREDIT_CHECK_DEFAULT_REASON),
                )
            if check.state == CreditCheck.State.DECLINED:
                order.state = Order.State.DECLINED
                order.save(update_fields=["state"])
                notification_create(
                    tenant=order.tenant,
                    level=Notification.Level.WARNING,
                    message=text("billing.notify.order_declined"),
                )
                done["declined"] += 1
            elif check.state == CreditCheck.State.APPROVED:
                try:
                    with transaction.atomic():
                        _purchase_fulfil(order=order, actor=None)
                    done["completed"] += 1
                except DomainError as error:
                    order.state = Order.State.FAILED
                    order.snapshot = {**order.snapshot, "failure": str(error)}
                    order.save(update_fields=["state", "snapshot"])
                    notification_create(
                        tenant=order.tenant,
                        level=Notification.Level.ERROR,
                        message=text("billing.notify.order_failed", reason=error.text),
                    )
                    done["failed"] += 1
    return done
