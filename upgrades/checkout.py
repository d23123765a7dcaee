"""The upgrade cart and checkout: what is bought (quantity, billing), the pricing snapshot
frozen when checkout opens, and the order's Sold to / Billed to / payment choices. Every
function owns its transaction and refuses a tenant an upgrade has admin-locked (support
engineers excepted); upgrades.services re-exports them."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.utils import formats
from django.utils.translation import gettext as _

from billing.models import PaymentMethod, Product, Status
from billing.payments import credit_check_required, invoice_allowed
from licensing.models import LicenseAssignment
from portal import clock
from portal.actors import recorded_actor
from portal.errors import DomainError
from portal.services import admin_lock_enforce

from . import selectors
from .models import UpgradeCart
from .quote import quote_as_snapshot, quote_build, snapshot_total, window_as_of

MAX_QUANTITY = 1_000_000

# A maintenance window starts at least this long after it is chosen (so the admins can be
# told) and at most this far ahead (so the frozen prices stay close to the day's).
WINDOW_MIN_LEAD = dt.timedelta(hours=1)
WINDOW_MAX_AHEAD = dt.timedelta(days=14)


def target_option_or_error(*, access, source, target_code: str):
    eligibility = selectors.eligibility_for(access=access, subscription=source)
    if eligibility.reasons:
        raise DomainError(str(eligibility.reasons[0].message), code=eligibility.reasons[0].code)
    option = eligibility.target(target_code)
    if option is None:
        raise DomainError(_("That plan is not an upgrade of this subscription."), code="no_path")
    if not option.available:
        raise DomainError(str(option.reasons[0].message), code=option.reasons[0].code)
    return option


def quantity_check(*, cart: UpgradeCart, quantity: int) -> None:
    source = cart.source
    assigned = LicenseAssignment.objects.filter(subscription=source).count()
    if quantity < source.quantity:
        raise DomainError(
            _("Licenses cannot be removed as part of an upgrade: choose %(qty)s or more.")
            % {"qty": source.quantity},
            code="quantity_below_current",
        )
    if quantity < assigned:
        raise DomainError(
            _("Every assigned user needs a license: choose %(qty)s or more.") % {"qty": assigned},
            code="quantity_below_assigned",
        )
    cap = cart.target.seat_cap
    if cap is not None and quantity > cap:
        raise DomainError(
            _("%(target)s is limited to %(cap)s licenses.")
            % {"target": cart.target.name, "cap": cap},
            code="seat_cap",
        )
    if quantity > MAX_QUANTITY:
        raise DomainError(_("That is more licenses than can be bought online."), code="too_many")


def _open_cart_or_error(*, cart: UpgradeCart) -> None:
    if cart.order_id:
        raise DomainError(_("This order has already been placed."), code="cart_placed")


# --- Maintenance window ---------------------------------------------------------------------


def window_zone(time_zone: str) -> ZoneInfo:
    """The tenant's time zone (windows are chosen and shown in it); UTC if the name is not
    one the system knows."""
    try:
        return ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def window_words(moment: dt.datetime, *, time_zone: str) -> str:
    """A moment as the tenant's admins read it: local date and time with the zone's name."""
    zone = window_zone(time_zone)
    local = moment.astimezone(zone)
    return _("%(time)s (%(zone)s)") % {
        "time": formats.date_format(local, "DATETIME_FORMAT"),
        "zone": zone.key,
    }


def window_check(
    *, scheduled_for: dt.datetime, now: dt.datetime, time_zone: str, source=None
) -> None:
    """A window starts at least WINDOW_MIN_LEAD and at most WINDOW_MAX_AHEAD after `now` (the
    clock's), and, given the source, on a day before its paid period ends (it would expire or
    renew first, and the frozen prices would no longer apply). Raises a DomainError naming the
    bound in the tenant's time."""
    if scheduled_for.tzinfo is None:
        raise ValueError("a maintenance window is an aware datetime")
    earliest = now + WINDOW_MIN_LEAD
    latest = now + WINDOW_MAX_AHEAD
    if scheduled_for < earliest:
        raise DomainError(
            _("Choose a start at least an hour from now: %(earliest)s or later.")
            % {"earliest": window_words(earliest, time_zone=time_zone)},
            code="window_too_soon",
        )
    if scheduled_for > latest:
        raise DomainError(
            _("Choose a start within 14 days: %(latest)s at the latest.")
            % {"latest": window_words(latest, time_zone=time_zone)},
            code="window_too_far",
        )
    if source is not None and window_as_of(scheduled_for) >= source.paid_through:
        raise DomainError(
            _("%(source)s is paid through %(day)s: choose a start before that day, or upgrade now.")
            % {"source": source.product.name, "day": source.paid_through.isoformat()},
            code="window_after_paid_period",
        )


# --- Cart and checkout ---------------------------------------------------------------------


@transaction.atomic
def upgrade_cart_create(*, access, source, target_code: str) -> UpgradeCart:
    """Start an upgrade from the Upgrade tab: quantity and billing as the source has them."""
    admin_lock_enforce(tenant=access.tenant, actor=access.user)
    target_option_or_error(access=access, source=source, target_code=target_code)
    now = clock.now()
    cart = UpgradeCart.objects.create(
        tenant=access.tenant,
        source=source,
        target=Product.objects.get(code=target_code),
        billing_frequency=source.billing_frequency,
        quantity=source.quantity,
        created_by=recorded_actor(access.user),
        created_at=now,
        updated_at=now,
    )
    return cart


def _locked_cart(cart: UpgradeCart, *related: str) -> UpgradeCart:
    """The cart's row, locked: only the cart's own row, never the source subscription, the
    tenant or the shared catalog product it joins."""
    return (
        UpgradeCart.objects.select_for_update(of=("self",))
        .select_related("tenant", *related)
        .get(pk=cart.pk)
    )


@transaction.atomic
def upgrade_cart_update(
    *, cart: UpgradeCart, actor, billing_frequency: str, quantity: int
) -> UpgradeCart:
    cart = _locked_cart(cart, "source", "target")
    admin_lock_enforce(tenant=cart.tenant, actor=actor)
    _open_cart_or_error(cart=cart)
    quantity_check(cart=cart, quantity=quantity)
    cart.billing_frequency = billing_frequency
    cart.quantity = quantity
    # Any change to what is bought thaws the price: checkout freezes a new one.
    cart.snapshot = None
    cart.snapshot_at = None
    cart.checkout_token = ""
    cart.updated_at = clock.now()
    cart.save()
    return cart


def snapshot_stale(cart: UpgradeCart) -> bool:
    if not cart.snapshot or not cart.snapshot_at:
        return True
    if (
        clock.real_seconds_since(cart.snapshot_at)
        > settings.PORTAL_UPGRADE_SNAPSHOT_MAX_AGE_SECONDS
    ):
        return True
    return snapshot_source_changed(snapshot=cart.snapshot, source=cart.source)


def snapshot_source_changed(*, snapshot: dict, source) -> bool:
    """Whether the source no longer is what the snapshot priced: its licenses, its paid
    period, its live add-ons, or its being active (a later upgrade or a cancellation)."""
    frozen = snapshot["source"]
    addons = sorted(snapshot["moved_addons"] + snapshot["removed_addons"])
    live = list(selectors.upgrade_addon_list(source=source))
    # Snapshots frozen before the add-ons' days were recorded compare the ids only.
    paid = snapshot.get("addons_paid_through")
    return (
        source.status != Status.ACTIVE
        or frozen["quantity"] != source.quantity
        or frozen["paid_through"] != source.paid_through.isoformat()
        or addons != sorted(a.pk for a in live)
        or (
            paid is not None
            and any(paid.get(str(a.pk)) != a.paid_through.isoformat() for a in live)
        )
    )


def cart_quote(cart: UpgradeCart):
    """The cart's prices as of the day it would start (its window's, or today): the cart's
    preview, what checkout freezes, what a rehearsal of an unfrozen cart shows."""
    return quote_build(
        source=cart.source,
        target=cart.target,
        quantity=cart.quantity,
        billing_frequency=cart.billing_frequency,
        addons=list(selectors.upgrade_addon_list(source=cart.source)),
        as_of=window_as_of(cart.scheduled_for),
    )


def _snapshot_freeze(cart: UpgradeCart) -> None:
    """Freeze the cart's prices as of the day it would start (its window's, or today) and
    renew the checkout token: an order placed from an earlier page no longer matches."""
    quote = cart_quote(cart)
    cart.snapshot = quote_as_snapshot(
        quote=quote, source=cart.source, target=cart.target, cart=cart
    )
    cart.snapshot_at = clock.now()
    cart.checkout_token = uuid.uuid4().hex
    profile = getattr(cart.tenant, "billing_profile", None)
    if not invoice_allowed(
        total=quote.total, invoice_eligible=bool(profile and profile.invoice_eligible)
    ):
        cart.payment_method = PaymentMethod.CARD


@transaction.atomic
def upgrade_checkout_open(*, cart: UpgradeCart, actor) -> UpgradeCart:
    """Freeze the pricing snapshot when checkout opens (again only when it went stale)."""
    cart = _locked_cart(cart, "source__product", "source__tenant", "target")
    admin_lock_enforce(tenant=cart.tenant, actor=actor)
    if cart.order_id or not snapshot_stale(cart):
        return cart
    tenant = cart.tenant
    _snapshot_freeze(cart)
    if not cart.sold_to:
        cart.sold_to = {
            "name": tenant.name,
            "address_line": tenant.address_line,
            "city": tenant.city,
            "postal_code": tenant.postal_code,
            "country": tenant.country,
        }
    profile = getattr(tenant, "billing_profile", None)
    if not cart.billed_to and profile is not None:
        cart.billed_to = {
            "contact_name": profile.contact_name,
            "contact_email": profile.contact_email,
            "address_line": profile.address_line,
            "city": profile.city,
            "postal_code": profile.postal_code,
            "country": profile.country,
        }
        cart.po_number = cart.po_number or profile.po_number
    cart.updated_at = clock.now()
    cart.save()
    return cart


@transaction.atomic
def upgrade_checkout_window_set(
    *, cart: UpgradeCart, actor, scheduled_for: dt.datetime | None
) -> UpgradeCart:
    """Checkout's "When": start as soon as the order is placed (None) or at a maintenance
    window. The prices are frozen again as of the window's day (the new plan's period starts
    then, and unused time is credited from then) and the checkout token renewed, as when
    checkout opens. A window out of bounds changes nothing."""
    cart = _locked_cart(cart, "source__product", "source__tenant", "target")
    admin_lock_enforce(tenant=cart.tenant, actor=actor)
    _open_cart_or_error(cart=cart)
    if scheduled_for is not None:
        window_check(
            scheduled_for=scheduled_for,
            now=clock.now(),
            time_zone=cart.tenant.time_zone,
            source=cart.source,
        )
    if scheduled_for == cart.scheduled_for and not snapshot_stale(cart):
        return cart
    cart.scheduled_for = scheduled_for
    _snapshot_freeze(cart)
    cart.updated_at = clock.now()
    cart.save()
    return cart


@transaction.atomic
def upgrade_checkout_update(
    *,
    cart: UpgradeCart,
    actor,
    sold_to: dict | None = None,
    billed_to: dict | None = None,
    payment_method: str | None = None,
    po_number: str | None = None,
) -> UpgradeCart:
    """The checkout's Change actions: these do not change the price, so the snapshot stays."""
    cart = _locked_cart(cart)
    admin_lock_enforce(tenant=cart.tenant, actor=actor)
    _open_cart_or_error(cart=cart)
    if sold_to is not None:
        cart.sold_to = {**cart.sold_to, **sold_to}
    if billed_to is not None:
        cart.billed_to = {**cart.billed_to, **billed_to}
    if po_number is not None:
        cart.po_number = po_number
    if payment_method is not None:
        if payment_method == PaymentMethod.INVOICE and not payment_invoice_allowed(cart=cart):
            raise DomainError(
                _(
                    "Paying by invoice needs an amount to pay of at least %(minimum)s %(cur)s "
                    "(credits larger than the charges go to your account, and nothing is paid)."
                )
                % {"minimum": settings.PORTAL_INVOICE_MINIMUM, "cur": cart.tenant.currency},
                code="invoice_not_allowed",
            )
        cart.payment_method = payment_method
    cart.updated_at = clock.now()
    cart.save()
    return cart


def payment_invoice_allowed(*, cart: UpgradeCart) -> bool:
    profile = getattr(cart.tenant, "billing_profile", None)
    if not cart.snapshot or profile is None:
        return False
    return invoice_allowed(
        total=snapshot_total(cart.snapshot), invoice_eligible=profile.invoice_eligible
    )


def payment_credit_check_required(*, cart: UpgradeCart) -> bool:
    if not cart.snapshot:
        return False
    return credit_check_required(
        total=snapshot_total(cart.snapshot), payment_method=cart.payment_method
    )
