"""The upgrade's plan: what a run would do and why it could not, computed by the same
functions the engine's steps call. A rehearsal evaluates them without changing anything; the
engine evaluates them at the step that acts on them, so the two cannot drift apart.

Every function here is a read (or pure): none writes, locks or sleeps. Each reads a fixed
number of rows whatever the tenant's size (counts, never one query per user)."""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count
from django.utils.translation import gettext as _

from billing.models import PaymentMethod, Product, Status, Subscription
from billing.payments import (
    DECLINING_CARD,
    PaymentDeclined,
    Settlement,
    credit_check_required,
    invoice_allowed,
    settlement_preview,
)
from billing.pricing import Line
from licensing.models import LicenseAssignment
from portal import clock
from portal.errors import DomainError
from portal.texts import StoredText, stored, text

from . import selectors
from .checkout import cart_quote, payment_invoice_allowed, quantity_check, snapshot_stale
from .eligibility import EligibilitySnapshot, ReasonCode, Remedy, eligibility_evaluate
from .estimate import Estimate, duration_estimate
from .models import RunState, UpgradeCart, UpgradeRun
from .quote import quote_as_snapshot, snapshot_lines, snapshot_total

# A credit check is decided within this many business days (billing.payments.credit_check_open).
CREDIT_CHECK_BUSINESS_DAYS = 2

# Runs that have not bought anything yet: what would stop them can still be foreseen.
NOT_STARTED = frozenset({RunState.SCHEDULED, RunState.PLACED, RunState.AWAITING_CREDIT_CHECK})


@dataclass(frozen=True)
class Blocker:
    """A reason the run would fail if it started now: a code and a sentence for the admin,
    with what to do about it (remedy) and, when the portal has a page for it, an action."""

    code: str
    message: StoredText | str  # a stored text when a run may record it as its failure
    remedy: str = ""
    action: str | None = None  # an eligibility.Remedy the page turns into a link

    @property
    def text(self) -> StoredText:
        """The message as a run records it: in the reader's language when shown."""
        return stored(self.message)

    def error(self) -> DomainError:
        """The failure the engine raises for this blocker (same code, same words)."""
        return DomainError(self.message, code=self.code)


# --- Users -----------------------------------------------------------------------------------


def holders_count(*, source_id: int) -> int:
    """Users holding a license of the source: the users the run moves."""
    return LicenseAssignment.objects.filter(subscription_id=source_id).count()


def holders_sample(*, source_id: int, limit: int = 10) -> list[dict]:
    """The first `limit` users the run moves, in the order it moves them (by license id)."""
    rows = (
        LicenseAssignment.objects.filter(subscription_id=source_id)
        .order_by("id")
        .values_list("id", "user_id", "user__display_name", "user__upn")[:limit]
    )
    return [
        {"assignment_id": pk, "user_id": user_id, "name": name, "email": upn}
        for pk, user_id, name, upn in rows
    ]


def quantity_blocker(*, holders: int, quantity: int, source_name: str) -> Blocker | None:
    """More users hold the source than the order buys licenses of the target."""
    if holders <= quantity:
        return None
    return Blocker(
        code="quantity_short",
        message=text(
            "upgrades.failure.quantity_short",
            holders=holders,
            source=source_name,
            quantity=quantity,
        ),
        remedy=_("Unassign licenses of %(source)s, or start a new upgrade with more licenses.")
        % {"source": source_name},
        action=Remedy.LICENSES,
    )


def seat_cap_blocker(*, target: Product, quantity: int) -> Blocker | None:
    cap = target.seat_cap
    if cap is None or quantity <= cap:
        return None
    return Blocker(
        code="seat_cap",
        message=text("upgrades.failure.seat_cap", target=target.name, cap=cap),
        remedy=_("Choose a plan without a seat limit."),
    )


# --- Add-ons ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddonEffect:
    id: int
    product: str  # product code
    name: str
    holders: int

    def as_json(self) -> dict:
        return {"id": self.id, "product": self.product, "name": self.name, "holders": self.holders}


@dataclass(frozen=True)
class AddonPlan:
    removed: tuple[AddonEffect, ...]  # included in the target: cancelled with their holders
    moved: tuple[AddonEffect, ...]  # accepted by the target: re-attached to it
    not_carried: tuple[AddonEffect, ...]  # neither: the run fails

    def blockers(self, *, target: Product) -> list[Blocker]:
        return [
            Blocker(
                code="addon_not_carried",
                message=text(
                    "upgrades.failure.addon_not_carried", target=target.name, addon=addon.name
                ),
                remedy=_("Cancel the add-on first, or choose another plan."),
                action=Remedy.PRODUCTS,
            )
            for addon in self.not_carried
        ]

    def as_record(self) -> dict:
        """What the run keeps for its report."""
        return {
            "removed_addons": [a.as_json() for a in self.removed],
            "moved_addons": [a.as_json() for a in self.moved],
        }


def addons_live(*, source_id: int):
    """The source's add-ons an upgrade acts on, by primary key (the engine locks them so)."""
    return (
        Subscription.objects.filter(parent_id=source_id)
        .exclude(status__in=[Status.DISABLED, Status.DELETED])
        .select_related("product")
        .order_by("pk")
    )


def addon_holders(*, addon_ids: Iterable[int]) -> dict[int, int]:
    """Users holding each add-on (one query)."""
    rows = (
        LicenseAssignment.objects.filter(subscription_id__in=list(addon_ids))
        .values("subscription_id")
        .annotate(n=Count("id"))
        .values_list("subscription_id", "n")
    )
    return dict(rows)


def addons_classify(
    *, target: Product, addons: Iterable[Subscription], holders: Mapping[int, int]
) -> AddonPlan:
    """Included by the target: removed; accepted: moved; neither: not carried (the catalog's
    includes/accepts, two queries). `addons` have .product loaded."""
    includes = set(target.includes.values_list("code", flat=True))
    accepts = set(target.accepts.values_list("code", flat=True))
    removed, moved, refused = [], [], []
    for addon in addons:
        effect = AddonEffect(
            id=addon.pk,
            product=addon.product.code,
            name=addon.product.name,
            holders=holders.get(addon.pk, 0),
        )
        if effect.product in includes:
            removed.append(effect)
        elif effect.product in accepts:
            moved.append(effect)
        else:
            refused.append(effect)
    return AddonPlan(tuple(removed), tuple(moved), tuple(refused))


# --- Money -----------------------------------------------------------------------------------


def invoice_lines(*, snapshot: dict, subscription_id: int | None = None) -> list[Line]:
    """The order's invoice lines, as frozen: the first is the new plan's charge, and belongs to
    the new subscription once it exists."""
    lines = snapshot_lines(snapshot)
    if subscription_id is not None:
        lines[0] = lines[0].for_subscription(subscription_id)
    return lines


def credit_check_needed(*, total: Decimal, payment_method: str) -> bool:
    return credit_check_required(total=total, payment_method=payment_method)


def credit_check_deadline(*, now: dt.datetime) -> dt.datetime:
    """The latest a credit check opened at `now` is decided (billing.payments)."""
    return clock.add_business_days(now, CREDIT_CHECK_BUSINESS_DAYS)


def payment_blocker(*, tenant, settlement: Settlement, payment_method: str) -> Blocker | None:
    """Whether taking the payment would fail now, by the rules billing applies when the order
    is billed (invoice_settle, card_charge): only what is left after the credit balance goes
    to a card, and only when paying by card; no card on file, or a card that declines, fails."""
    if payment_method != PaymentMethod.CARD or settlement.to_pay <= 0:
        return None
    profile = getattr(tenant, "billing_profile", None)
    if profile is None or not profile.has_card:
        return Blocker(
            code="no_card",
            message=text("billing.error.no_card"),
            remedy=_("Add a card under Bills and payments, or pay by invoice if offered."),
        )
    if profile.card_token == DECLINING_CARD:
        declined = PaymentDeclined()
        return Blocker(
            code=declined.code,
            message=declined.text,
            remedy=_("Update the card on file under Bills and payments."),
        )
    return None


# --- Eligibility reasons that still apply to a placed order ------------------------------------

# The Upgrade tab's reasons that stop an order that is already placed (the others concern
# whether a new order can be placed at all).
RUN_REASONS = frozenset({ReasonCode.UNPAID_INVOICE})


def reason_blocker(reason) -> Blocker:
    return Blocker(
        code=str(reason.code),
        message=str(reason.message),
        remedy=str(reason.remedy),
        action=reason.action,
    )


def unpaid_blockers(*, source: Subscription, overdue: int) -> list[Blocker]:
    """The Upgrade tab's unpaid-balance reason, in eligibility's own words: its pure rules
    evaluated over the source's facts and the overdue count (the other facts neutral, and
    only RUN_REASONS kept, so no other rule speaks here)."""
    facts = EligibilitySnapshot(
        product_code=source.product.code,
        product_name=source.product.name,
        is_addon=source.is_addon,
        status=source.status,
        channel=source.channel,
        is_trial=source.is_trial,
        is_prepaid=source.is_prepaid,
        offer=source.offer,
        quantity=source.quantity,
        assigned=0,
        set_up=True,
        open_incident=False,
        tenant_run_state=None,
        same_product_count=1,
        overdue_invoices=overdue,
        queue_depth=0,
        queue_threshold=0,
        can_purchase=True,
        source_services=frozenset(),
    )
    return [reason_blocker(r) for r in eligibility_evaluate(facts).reasons if r.code in RUN_REASONS]


# --- A placed or scheduled run -----------------------------------------------------------------


def run_blockers(*, run: UpgradeRun) -> list[Blocker]:
    """What would make this placed or scheduled run fail if it started now (none: it would
    go through). Used for the warnings on a scheduled run and when its window starts. Seven
    queries whatever the tenant's size; a run already under way has none."""
    if run.state not in NOT_STARTED:
        return []
    # One query for everything the checks read of the run, however the caller loaded it.
    run = UpgradeRun.objects.select_related(
        "order", "tenant__billing_profile", "source__product", "target"
    ).get(pk=run.pk)
    order = run.order
    snapshot = order.snapshot
    tenant = run.tenant
    source = run.source
    # In the order the run meets them: the first is the failure it would end with.
    found = [
        quantity_blocker(
            holders=holders_count(source_id=source.pk),
            quantity=snapshot["quantity"],
            source_name=source.product.name,
        ),
        payment_blocker(
            tenant=tenant,
            settlement=settlement_preview(tenant=tenant, total=order.total),
            payment_method=order.payment_method,
        ),
        *addons_classify(
            target=run.target, addons=addons_live(source_id=source.pk), holders={}
        ).blockers(target=run.target),
        seat_cap_blocker(target=run.target, quantity=snapshot["quantity"]),
        *unpaid_blockers(
            source=source,
            overdue=selectors.overdue_invoices_count(tenant=tenant, today=clock.today()),
        ),
    ]
    return [blocker for blocker in found if blocker is not None]


# --- Rehearsal of a cart -----------------------------------------------------------------------

# How many of the users to move a rehearsal names (the first the run moves).
SAMPLE_SIZE = 10
# Place order's refusal and the run's failure for the same fact: the rehearsal shows the first.
SAME_FACT = {"quantity_short": "quantity_below_assigned"}


@dataclass(frozen=True)
class Rehearsal:
    """Everything the upgrade of a cart would do if its order were placed now, and every
    reason it would not go through. Computed without writing anything."""

    source_name: str
    target_name: str
    frozen: bool  # prices from checkout's frozen snapshot (else today's, as the cart shows)
    quantity: int
    billing_frequency: str
    payment_method: str
    users: int
    sample: tuple[dict, ...]
    addons: AddonPlan
    lines: tuple[Line, ...]
    total: Decimal
    currency: str
    settlement: Settlement
    credit_check: bool
    credit_check_deadline: dt.datetime | None
    estimate: Estimate
    scheduled_for: dt.datetime | None
    blockers: tuple[Blocker, ...]

    @property
    def charges(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.amount >= 0)

    @property
    def credits(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.amount < 0)

    @property
    def would_succeed(self) -> bool:
        return not self.blockers


def _cart_snapshot(cart: UpgradeCart) -> tuple[dict, bool]:
    """The prices the order would charge: checkout's frozen snapshot while it is fresh (what
    Place order charges), else today's quote, built as checkout would freeze it."""
    if cart.snapshot and not snapshot_stale(cart):
        return cart.snapshot, True
    quote = cart_quote(cart)
    return quote_as_snapshot(quote=quote, source=cart.source, target=cart.target, cart=cart), False


def _payment_method(cart: UpgradeCart, snapshot: dict, frozen: bool) -> str:
    """As the order would be paid: opening checkout turns an invoice the total no longer
    allows into the card (upgrade_checkout_open)."""
    if frozen or cart.payment_method != PaymentMethod.INVOICE:
        return cart.payment_method
    profile = getattr(cart.tenant, "billing_profile", None)
    allowed = invoice_allowed(
        total=snapshot_total(snapshot),
        invoice_eligible=bool(profile and profile.invoice_eligible),
    )
    return cart.payment_method if allowed else PaymentMethod.CARD


def _place_blockers(*, access, cart: UpgradeCart, payment_method: str, frozen: bool):
    """What Place order would refuse (services.upgrade_place), every reason rather than the
    first: the Upgrade tab's, the target's, the quantity's and the payment method's."""
    eligibility = selectors.eligibility_for(access=access, subscription=cart.source)
    found = [reason_blocker(reason) for reason in eligibility.reasons]
    option = eligibility.target(cart.target.code)
    if option is None:
        found.append(Blocker("no_path", _("That plan is not an upgrade of this subscription.")))
    else:
        found += [reason_blocker(reason) for reason in option.reasons]
    try:
        quantity_check(cart=cart, quantity=cart.quantity)
    except DomainError as error:
        found.append(Blocker(error.code, error.message, _("Change the licenses in the cart.")))
    if (
        frozen
        and payment_method == PaymentMethod.INVOICE
        and not payment_invoice_allowed(cart=cart)
    ):
        found.append(
            Blocker(
                "invoice_not_allowed",
                _("This order cannot be paid by invoice."),
                _("Choose the card on file at checkout."),
            )
        )
    return found


def cart_rehearse(*, access, cart: UpgradeCart) -> Rehearsal:
    """Rehearse the upgrade of an open cart: the users it moves (how many, and the first
    ones, in the order the run moves them), the add-ons it removes and moves with their
    holders, the invoice's lines and credits, the credit check, how long the admin center
    stays locked, and every reason Place order or the run would fail now, in the order they
    would. The engine's own planning functions decide each of them; nothing is written. A
    fixed number of queries, none per user."""
    source, target, tenant = cart.source, cart.target, cart.tenant
    snapshot, frozen = _cart_snapshot(cart)
    payment_method = _payment_method(cart, snapshot, frozen)
    total = snapshot_total(snapshot)
    holders = holders_count(source_id=source.pk)
    addons = list(addons_live(source_id=source.pk))
    effects = addons_classify(
        target=target, addons=addons, holders=addon_holders(addon_ids=[a.pk for a in addons])
    )
    settlement = settlement_preview(tenant=tenant, total=total)
    credit_check = credit_check_needed(total=total, payment_method=payment_method)
    found = _place_blockers(access=access, cart=cart, payment_method=payment_method, frozen=frozen)
    # Then the run's steps, in order: provisioning (licenses, payment), removing add-ons.
    found += [
        quantity_blocker(
            holders=holders, quantity=snapshot["quantity"], source_name=source.product.name
        ),
        payment_blocker(tenant=tenant, settlement=settlement, payment_method=payment_method),
        *effects.blockers(target=target),
        seat_cap_blocker(target=target, quantity=snapshot["quantity"]),
    ]
    blockers, seen = [], set()
    for blocker in found:
        if blocker is None or blocker.code in seen or SAME_FACT.get(blocker.code) in seen:
            continue
        seen.add(blocker.code)
        blockers.append(blocker)
    return Rehearsal(
        source_name=source.product.name,
        target_name=target.name,
        frozen=frozen,
        quantity=snapshot["quantity"],
        billing_frequency=snapshot["billing_frequency"],
        payment_method=payment_method,
        users=holders,
        sample=tuple(holders_sample(source_id=source.pk, limit=SAMPLE_SIZE)),
        addons=effects,
        lines=tuple(invoice_lines(snapshot=snapshot)),
        total=total,
        currency=snapshot["currency"],
        settlement=settlement,
        credit_check=credit_check,
        credit_check_deadline=credit_check_deadline(now=clock.now()) if credit_check else None,
        estimate=duration_estimate(users=holders),
        scheduled_for=cart.scheduled_for,
        blockers=tuple(blockers),
    )
