import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from portal import clock
from portal.actors import recorded_actor
from portal.errors import DomainError
from portal.models import Tenant
from portal.services import admin_lock_enforce, audit_event_record
from portal.texts import text

from . import payments, pricing, rules
from .lifecycle import NEXT_STATE_AFTER, subscription_activate_if_ready, subscription_transition
from .models import (
    BillingProfile,
    Channel,
    CreditCheck,
    LineKind,
    PaymentMethod,
    Price,
    Product,
    Status,
    Subscription,
    SubscriptionStatusChange,
)
from .renewals import ends_at_paid_through
from .selectors import subscription_assigned_count, subscription_upgraded_to


def subscription_create(
    *,
    tenant: Tenant,
    product: Product,
    quantity: int,
    billing_frequency: str,
    channel: str,
    parent: Subscription | None = None,
    actor=None,
    status: str = Status.PROVISIONING,
    is_trial: bool = False,
    is_prepaid: bool = False,
    offer: str = "commercial",
    recurring_billing: bool = True,
    paid_through: dt.date | None = None,
    unit_price=None,
) -> Subscription:
    """A new subscription. It starts in Provisioning and becomes Active after the simulated
    set-up delay (subscriptions_advance, or the first license write after ready_at).
    `unit_price` is what its first term is charged at (by default today's list price)."""
    now = clock.now()
    if unit_price is None:
        unit_price = (
            Price.objects.filter(product=product, currency=tenant.currency)
            .values_list("monthly", flat=True)
            .first()
        )
    with transaction.atomic():
        subscription = Subscription.objects.create(
            tenant=tenant,
            product=product,
            parent=parent,
            is_addon=product.is_addon,
            quantity=quantity,
            billing_frequency=billing_frequency,
            channel=channel,
            is_trial=is_trial,
            is_prepaid=is_prepaid,
            offer=offer,
            recurring_billing=recurring_billing,
            term_unit_price=unit_price,
            term_start=None if paid_through else now.date(),
            status=status,
            status_since=now,
            paid_through=paid_through
            or pricing.paid_through_for(start=now.date(), billing_frequency=billing_frequency),
            ready_at=now + dt.timedelta(seconds=settings.PORTAL_PROVISIONING_DELAY_SECONDS),
            created_at=now,
        )
        SubscriptionStatusChange.objects.create(
            subscription=subscription,
            from_status="",
            to_status=status,
            at=now,
            actor=recorded_actor(actor),
            reason="created",
        )
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="subscription.create",
            target=f"subscription:{subscription.pk}",
            data={"product": product.code, "quantity": quantity},
        )
    return subscription


def subscriptions_advance() -> dict[str, int]:
    """The periodic lifecycle step: Provisioning -> Active once set up, Active -> Expired at
    the paid-through date when it does not renew (recurring billing off, no longer sold),
    Expired -> Disabled after 30 days, Disabled -> Deleted after 90. Each row is moved under
    its own lock so a concurrent admin action is never overwritten."""
    now = clock.now()
    today = now.date()
    moved = {"activated": 0, "expired": 0, "disabled": 0, "deleted": 0}
    due = list(
        Subscription.objects.filter(status=Status.PROVISIONING, ready_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    # Active past the paid period: those that renew are the renewal pass's business (billing.
    # renewals); the others expire at their paid-through date.
    due += list(
        Subscription.objects.filter(status=Status.ACTIVE, paid_through__lte=today).values_list(
            "pk", flat=True
        )
    )
    for status, (delay, _to) in NEXT_STATE_AFTER.items():
        due += list(
            Subscription.objects.filter(status=status, status_since__lte=now - delay).values_list(
                "pk", flat=True
            )
        )
    for pk in sorted(due):
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update(of=("self",))
                .select_related("product", "parent")
                .get(pk=pk)
            )
            if subscription.status == Status.PROVISIONING:
                moved["activated"] += subscription_activate_if_ready(
                    subscription=subscription, now=now
                )
                continue
            if subscription.status == Status.ACTIVE:
                base = subscription.parent if subscription.parent_id else None
                if subscription.paid_through <= today and ends_at_paid_through(subscription, base):
                    subscription_transition(
                        subscription=subscription,
                        to=Status.EXPIRED,
                        reason="paid period ended",
                        at=now,
                    )
                    moved["expired"] += 1
                continue
            step = NEXT_STATE_AFTER.get(subscription.status)
            if step and subscription.status_since <= now - step[0]:
                subscription_transition(
                    subscription=subscription, to=step[1], reason="lifecycle", at=now
                )
                moved["disabled" if step[1] == Status.DISABLED else "deleted"] += 1
    return moved


# --- Admin actions on a subscription ----------------------------------------------------------
# Each locks the subscription row, re-checks the rules of billing.rules under the lock, and
# records charges and credits as invoice lines in the same transaction.


def _locked_subscription(*, tenant: Tenant, subscription_id: int) -> Subscription:
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("product")
        .filter(tenant=tenant, pk=subscription_id)
        .exclude(status=Status.DELETED)
        .first()
    )
    if subscription is None:
        raise DomainError(_("That subscription does not exist."), code="not_found")
    return subscription


def _raise_first(blockers) -> None:
    if blockers:
        raise DomainError(blockers[0].message, code=blockers[0].code)


def _assigned_count(subscription: Subscription) -> int:
    """Licenses assigned on the subscription, from the tally billing owns. Call it under the
    subscription's row lock (license writers take it too), so the number cannot change."""
    return subscription_assigned_count(subscription=subscription)


def payment_method_for(subscription: Subscription) -> str:
    if subscription.channel == Channel.DIRECT_INVOICE:
        return PaymentMethod.INVOICE
    return PaymentMethod.CARD


def subscription_licenses_add(
    *, tenant: Tenant, actor, subscription_id: int, count: int
) -> Subscription:
    """Buy `count` more licenses, charged pro rata for the rest of the paid period."""
    if count < 1:
        raise DomainError(_("Enter how many licenses to add (at least 1)."), code="invalid_count")
    with transaction.atomic():
        subscription = _locked_subscription(tenant=tenant, subscription_id=subscription_id)
        admin_lock_enforce(tenant=tenant, actor=actor)
        _raise_first(rules.add_licenses_blockers(subscription))
        cap = subscription.product.seat_cap or rules.MAX_LICENSES
        if subscription.quantity + count > cap:
            raise DomainError(
                _("%(product)s is limited to %(cap)d licenses; you can add at most %(free)d.")
                % {
                    "product": subscription.product.name,
                    "cap": cap,
                    "free": cap - subscription.quantity,
                },
                code="seat_cap",
            )
        unit = pricing.term_price(subscription)
        today = clock.today()
        amount = pricing.prorated_amount(
            subscription=subscription, unit_price=unit, quantity=count, today=today
        )
        line = pricing.Line(
            description=text(
                "billing.line.licenses_added",
                product=subscription.product.name,
                count=count,
                date=subscription.paid_through,
            ),
            quantity=count,
            amount=amount,
            subscription_id=subscription.pk,
            kind=LineKind.ADDED,
            unit_price=unit,
            period_start=max(today, pricing.period_start(subscription)),
            period_end=subscription.paid_through,
        )
        # A declined card raises here and the whole change rolls back.
        payments.lines_bill(
            tenant=tenant, lines=[line], payment_method=payment_method_for(subscription)
        )
        before = subscription.quantity
        subscription.quantity = before + count
        subscription.save(update_fields=["quantity"])
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="subscription.licenses_add",
            target=f"subscription:{subscription.pk}",
            data={"from": before, "to": subscription.quantity, "charge": str(amount)},
        )
    return subscription


def subscription_licenses_remove(
    *, tenant: Tenant, actor, subscription_id: int, count: int
) -> Subscription:
    """Remove `count` unassigned licenses; the unused paid time comes back as a credit line."""
    if count < 1:
        raise DomainError(
            _("Enter how many licenses to remove (at least 1)."), code="invalid_count"
        )
    with transaction.atomic():
        subscription = _locked_subscription(tenant=tenant, subscription_id=subscription_id)
        admin_lock_enforce(tenant=tenant, actor=actor)
        assigned = _assigned_count(subscription)
        pending = CreditCheck.objects.filter(
            tenant=tenant, state=CreditCheck.State.PENDING
        ).exists()
        blockers = [
            b
            for b in rules.remove_licenses_blockers(
                subscription, assigned=assigned, credit_check_pending=pending
            )
            if b.code != "all_assigned"
        ]
        _raise_first(blockers)
        new_quantity = subscription.quantity - count
        if new_quantity < max(assigned, 1):
            raise DomainError(
                _(
                    "%(product)s cannot go below %(min)d licenses: %(assigned)d are assigned. "
                    "You can remove at most %(most)d; unassign users to remove more."
                )
                % {
                    "product": subscription.product.name,
                    "min": max(assigned, 1),
                    "assigned": assigned,
                    "most": max(subscription.quantity - max(assigned, 1), 0),
                },
                code="below_assigned",
            )
        line = pricing.unused_time_line(
            subscription=subscription,
            quantity=count,
            today=clock.today(),
            description=text(
                "billing.line.licenses_removed",
                product=subscription.product.name,
                count=count,
                date=subscription.paid_through,
            ),
        )
        credit = -line.amount if line else 0
        if line:
            payments.lines_bill(
                tenant=tenant, lines=[line], payment_method=payment_method_for(subscription)
            )
        before = subscription.quantity
        subscription.quantity = new_quantity
        subscription.save(update_fields=["quantity"])
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="subscription.licenses_remove",
            target=f"subscription:{subscription.pk}",
            data={"from": before, "to": new_quantity, "credit": str(credit)},
        )
    return subscription


def subscription_cancel(
    *, tenant: Tenant, actor, subscription_id: int, reason: str = ""
) -> Subscription:
    """Cancel mid-term: straight to Disabled, with its add-ons, and a credit for unused paid
    time. Users of a disabled subscription lose access; admins still see its data."""
    with transaction.atomic():
        subscription = _locked_subscription(tenant=tenant, subscription_id=subscription_id)
        admin_lock_enforce(tenant=tenant, actor=actor)
        _raise_first(rules.cancel_blockers(subscription))
        addons = list(
            Subscription.objects.select_for_update(of=("self",))
            .select_related("product")
            .filter(parent=subscription, status__in=rules.CANCELLABLE)
            .order_by("pk")
        )
        today = clock.today()
        lines = []
        for item in [subscription, *addons]:
            line = pricing.unused_time_line(
                subscription=item,
                quantity=item.quantity,
                today=today,
                description=text(
                    "billing.line.cancelled", product=item.product.name, date=item.paid_through
                ),
            )
            if line:
                lines.append(line)
        credited = {line.subscription_id for line in lines}
        for item in [*addons, subscription]:
            subscription_transition(
                subscription=item,
                to=Status.DISABLED,
                actor=actor,
                reason=reason or "cancelled by admin",
            )
            item.recurring_billing = False
            # The unused time has just been refunded, so it is paid through today only: a
            # reactivation then pays for a new period instead of getting the refund for free.
            if item.pk in credited:
                item.paid_through = today
            item.save(update_fields=["recurring_billing", "paid_through"])
        if lines:
            payments.lines_bill(
                tenant=tenant, lines=lines, payment_method=payment_method_for(subscription)
            )
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="subscription.cancel",
            target=f"subscription:{subscription.pk}",
            reason=reason,
            data={"addons": [a.pk for a in addons], "credit": str(-pricing.lines_total(lines))},
        )
    return subscription


def subscription_reactivate(*, tenant: Tenant, actor, subscription_id: int) -> Subscription:
    """Back to Active from Expired or Disabled. When the paid period is over, a new period
    is charged and the subscription renews again."""
    with transaction.atomic():
        subscription = _locked_subscription(tenant=tenant, subscription_id=subscription_id)
        admin_lock_enforce(tenant=tenant, actor=actor)
        _raise_first(
            rules.reactivate_blockers(
                subscription, upgraded_to=subscription_upgraded_to(subscription=subscription)
            )
        )
        today = clock.today()
        charged = "0.00"
        if subscription.paid_through <= today:
            line = pricing.term_line(
                subscription=subscription,
                start=today,
                kind=LineKind.PURCHASE,
                description="billing.line.reactivated",
            )
            payments.lines_bill(
                tenant=tenant, lines=[line], payment_method=payment_method_for(subscription)
            )
            subscription.paid_through = line.period_end
            subscription.term_start = line.period_start
            subscription.term_unit_price = line.unit_price
            charged = str(line.amount)
        subscription_transition(
            subscription=subscription, to=Status.ACTIVE, actor=actor, reason="reactivated"
        )
        subscription.recurring_billing = subscription.product.on_sale
        subscription.save(
            update_fields=["paid_through", "term_start", "term_unit_price", "recurring_billing"]
        )
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="subscription.reactivate",
            target=f"subscription:{subscription.pk}",
            data={"charge": charged},
        )
    return subscription


# --- Billing profile ("Billed to") and organisation ("Sold to") -----------------------------


def billing_profile_update(*, tenant: Tenant, actor, data: dict) -> BillingProfile:
    fields = [
        "contact_name",
        "contact_email",
        "address_line",
        "city",
        "postal_code",
        "country",
        "po_number",
    ]
    with transaction.atomic():
        profile, _created = BillingProfile.objects.select_for_update(of=("self",)).get_or_create(
            tenant=tenant, defaults={k: data.get(k, "") for k in fields}
        )
        admin_lock_enforce(tenant=tenant, actor=actor)
        for name in fields:
            setattr(profile, name, data.get(name, getattr(profile, name)))
        profile.full_clean()
        profile.save()
        audit_event_record(
            tenant=tenant, actor=actor, action="billing_profile.update", target="billed_to"
        )
    return profile


def sold_to_update(*, tenant: Tenant, actor, data: dict) -> Tenant:
    """The organisation and address orders are sold to (the tenant's own record)."""
    fields = ["name", "address_line", "city", "postal_code", "country"]
    with transaction.atomic():
        locked = Tenant.objects.select_for_update(of=("self",)).get(pk=tenant.pk)
        admin_lock_enforce(tenant=locked, actor=actor)
        for name in fields:
            setattr(locked, name, data.get(name, getattr(locked, name)))
        locked.full_clean()
        locked.save(update_fields=fields)
        audit_event_record(tenant=locked, actor=actor, action="tenant.sold_to_update")
    return locked
