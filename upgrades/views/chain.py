"""Upgrade tab, cart, checkout, place order and the run's status page. Each step of the chain
declares its preconditions and redirects to the right step when one fails; views parse, call
a service or selector, and render."""

import datetime as dt
from functools import wraps
from types import SimpleNamespace

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.forms import BilledToForm, SoldToForm
from billing.models import PaymentMethod
from billing.selectors import subscription_assigned_count, subscription_get
from portal.access import tenant_view
from portal.errors import DomainError
from portal.htmx import is_fragment_request, page_or_partial
from portal.roles import Cap

from .. import forms, selectors, services
from ..eligibility import ReasonCode, Remedy
from ..models import RunState
from ..quote import snapshot_credit_from
from ..transitions import STEPS

# Where a reason's remedy sends the admin. Unpaid invoices and their "Pay now" buttons are
# shown on Your products.
REMEDY_URLS = {
    Remedy.PAY_NOW: ("products", "#unpaid-invoices"),
    Remedy.LICENSES: ("subscription_detail", "?tab=licenses"),
    Remedy.PRODUCTS: ("products", ""),
}


def _remedy_url(action, tenant, subscription) -> str:
    if action is None:
        return ""
    name, suffix = REMEDY_URLS[action]
    try:
        if name == "subscription_detail":
            return reverse(name, args=[tenant.slug, subscription.pk]) + suffix
        return reverse(name, args=[tenant.slug]) + suffix
    except NoReverseMatch:
        return reverse("products", args=[tenant.slug])


def _subscription_url(tenant, subscription_id) -> str:
    try:
        return reverse("subscription_detail", args=[tenant.slug, subscription_id])
    except NoReverseMatch:
        return reverse("products", args=[tenant.slug])


def with_cart(view):
    """Load the tenant's cart; a cart whose order is placed goes to its run's status page."""

    @wraps(view)
    def wrapper(request, cart_id, *args, **kwargs):
        cart = selectors.upgrade_cart_get(tenant=request.tenant, pk=cart_id)
        if cart.order_id:
            run = cart.order.upgrade_run
            return redirect("upgrade_status", request.tenant.slug, run.pk)
        return view(request, cart, *args, **kwargs)

    return wrapper


def _still_eligible(request, cart):
    """Precondition of cart and checkout: the upgrade is still offered. Else back to the tab."""
    eligibility = selectors.eligibility_for(access=request.access, subscription=cart.source)
    option = eligibility.target(cart.target.code)
    if eligibility.reasons or option is None or not option.available:
        messages.error(request, _("This upgrade is no longer offered. See why below."))
        return None, redirect("upgrade_tab", request.tenant.slug, cart.source_id)
    return option, None


# --- Upgrade tab ---------------------------------------------------------------------------

IN_PROGRESS = ReasonCode.UPGRADE_IN_PROGRESS


def _scheduled_reason(reason):
    """ "Another upgrade is running" said of an upgrade that waits for its window."""
    return SimpleNamespace(
        code=reason.code,
        message=_("An upgrade of this organisation is scheduled (see above)."),
        remedy=_("Cancel it to choose another plan, or wait until it has finished."),
        temporary=True,
        action=None,
    )


# Reasons that stop the admin from buying, not the subscription from being upgraded: the plans
# are still shown, with their prices and eligibility, without the buttons.
LOOK_ONLY = frozenset({ReasonCode.READ_ONLY_ROLE, ReasonCode.READ_ONLY_TOKEN})


def _upgraded_by(run, subscription):
    """The completed run that replaced this subscription (it was the run's source), if any:
    the tab then says where its users went instead of how to upgrade it."""
    if run is not None and run.state == RunState.COMPLETED and run.source_id == subscription.pk:
        return run
    return None


@tenant_view()
def upgrade_tab(request, subscription_id):
    tenant = request.tenant
    subscription = subscription_get(tenant=tenant, pk=subscription_id)
    latest_run = selectors.upgrade_run_for_subscription(subscription=subscription)
    scheduled_run = selectors.upgrade_run_scheduled_get(tenant=tenant)
    # Read once: the banner of base.html uses it too (upgrades.templatetags.upgrade_schedule).
    request.upgrade_scheduled_run = scheduled_run
    context = {
        "scheduled_run": scheduled_run,
        "subscription": subscription,
        "subscription_url": _subscription_url(tenant, subscription.pk),
        "latest_run": latest_run,
        "upgraded_by": _upgraded_by(latest_run, subscription),
    }
    if context["upgraded_by"] is not None:
        run = context["upgraded_by"]
        context["new_subscription_url"] = _subscription_url(tenant, run.new_subscription_id)
        return render(request, "upgrades/tab.html", context)
    eligibility = selectors.eligibility_for(access=request.access, subscription=subscription)
    reasons = [
        {
            "reason": _scheduled_reason(r) if scheduled_run and r.code == IN_PROGRESS else r,
            "url": _remedy_url(r.action, tenant, subscription),
        }
        for r in eligibility.reasons
        if r.code not in LOOK_ONLY
    ]
    look_only = [r for r in eligibility.reasons if r.code in LOOK_ONLY]
    targets = eligibility.targets if not reasons else ()
    prices = selectors.upgrade_target_prices(tenant=tenant, codes=[t.code for t in targets])
    context.update(
        {
            "eligibility": eligibility,
            "reasons": reasons,
            "look_only": look_only,
            "can_buy": not eligibility.reasons,
            "currency": tenant.currency,
            "targets": [{"option": t, "price": prices.get(t.code)} for t in targets],
        }
    )
    return render(request, "upgrades/tab.html", context)


@require_POST
@tenant_view(Cap.PURCHASE)
def upgrade_cart_create(request, subscription_id):
    subscription = subscription_get(tenant=request.tenant, pk=subscription_id)
    form = forms.TargetChoiceForm(request.POST)
    if not form.is_valid():
        return redirect("upgrade_tab", request.tenant.slug, subscription.pk)
    try:
        cart = services.upgrade_cart_create(
            access=request.access, source=subscription, target_code=form.cleaned_data["target"]
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("upgrade_tab", request.tenant.slug, subscription.pk)
    if form.cleaned_data["then"] == forms.TargetChoiceForm.REHEARSE:
        return redirect("upgrade_rehearsal", request.tenant.slug, cart.pk)
    return redirect("upgrade_cart", request.tenant.slug, cart.pk)


# --- Cart ----------------------------------------------------------------------------------


def _cart_form(cart, data=None):
    assigned = subscription_assigned_count(subscription=cart.source)
    return forms.UpgradeCartForm(
        data,
        initial={"billing_frequency": cart.billing_frequency, "quantity": cart.quantity},
        minimum=max(cart.source.quantity, assigned),
        maximum=cart.target.seat_cap,
    )


@tenant_view(Cap.PURCHASE)
@with_cart
def upgrade_cart(request, cart):
    option, bounce = _still_eligible(request, cart)
    if bounce:
        return bounce
    form = _cart_form(cart, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.upgrade_cart_update(cart=cart, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            if "preview" in request.POST:
                return redirect("upgrade_cart", request.tenant.slug, cart.pk)
            # Continuing to checkout freezes the prices (a POST: a page view never writes).
            services.upgrade_checkout_open(cart=cart, actor=request.user)
            return redirect("upgrade_checkout", request.tenant.slug, cart.pk)
    preview = services.cart_quote(cart)
    return render(
        request,
        "upgrades/cart.html",
        {
            "cart": cart,
            "form": form,
            "option": option,
            "addons": selectors.upgrade_addon_list(source=cart.source),
            "preview": preview,
        },
        status=400 if request.method == "POST" else 200,
    )


# --- Checkout ------------------------------------------------------------------------------

SECTIONS = {"sold_to": SoldToForm, "billed_to": BilledToForm}


@tenant_view(Cap.PURCHASE)
@with_cart
def upgrade_checkout(request, cart):
    option, bounce = _still_eligible(request, cart)
    if bounce:
        return bounce
    if not cart.order_id and services.snapshot_stale(cart):
        # Precondition "prices frozen and fresh": they are frozen by continuing from the cart.
        messages.info(
            request, _("Check the cart and continue: the prices are fixed when checkout opens.")
        )
        return redirect("upgrade_cart", request.tenant.slug, cart.pk)
    editing = request.GET.get("change") or request.POST.get("section")
    section_form = window_form = None
    status = 200
    if editing in SECTIONS:
        initial = dict(cart.sold_to if editing == "sold_to" else cart.billed_to)
        if editing == "billed_to":
            initial["po_number"] = cart.po_number
        section_form = SECTIONS[editing](request.POST or None, initial=initial)
    if request.method == "POST":
        try:
            if section_form is not None and section_form.is_valid():
                data = dict(section_form.cleaned_data)
                po_number = data.pop("po_number", None)
                services.upgrade_checkout_update(
                    cart=cart, actor=request.user, po_number=po_number, **{editing: data}
                )
                return redirect("upgrade_checkout", request.tenant.slug, cart.pk)
            if editing == "when":
                window_form = _window_form(cart, request.POST)
                if window_form.is_valid():
                    try:
                        services.upgrade_checkout_window_set(
                            cart=cart,
                            actor=request.user,
                            scheduled_for=window_form.cleaned_data["scheduled_for"],
                        )
                    except DomainError as error:
                        if error.code not in WINDOW_ERRORS:
                            raise
                        # Bounds are a field's error: shown beside it, nothing changed.
                        window_form.add_error("date", error.message)
                    else:
                        return redirect("upgrade_checkout", request.tenant.slug, cart.pk)
            if editing == "payment":
                payment = forms.PaymentForm(request.POST)
                if payment.is_valid():
                    services.upgrade_checkout_update(
                        cart=cart,
                        actor=request.user,
                        payment_method=payment.cleaned_data["payment_method"],
                    )
                    return redirect("upgrade_checkout", request.tenant.slug, cart.pk)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("upgrade_checkout", request.tenant.slug, cart.pk)
        status = 400
    if window_form is None:
        window_form = _window_form(cart)
    return render(
        request,
        "upgrades/checkout.html",
        {
            "cart": cart,
            "window_form": window_form,
            "window_zone": window_form.zone.key,
            "option": option,
            "snapshot": cart.snapshot,
            "credit_from": snapshot_credit_from(cart.snapshot) if cart.snapshot else None,
            "editing": editing,
            "section_form": section_form,
            "invoice_allowed": services.payment_invoice_allowed(cart=cart),
            "credit_check": services.payment_credit_check_required(cart=cart),
            "payment_methods": PaymentMethod.choices,
            "place_form": forms.PlaceOrderForm(initial={"idempotency_key": cart.checkout_token}),
        },
        status=status,
    )


# A window out of bounds is the window field's error, not the page's.
WINDOW_ERRORS = frozenset({"window_too_soon", "window_too_far"})


def _window_form(cart, data=None, *, allow_now=True, scheduled_for=None):
    """Checkout's "When" (and the reschedule page's): a date and time in the tenant's zone."""
    zone = services.window_zone(cart.tenant.time_zone)
    scheduled_for = scheduled_for or getattr(cart, "scheduled_for", None)
    initial = {"when": forms.MaintenanceWindowForm.NOW}
    if scheduled_for is not None:
        local = scheduled_for.astimezone(zone)
        initial = {
            "when": forms.MaintenanceWindowForm.WINDOW,
            "date": local.date(),
            "time": local.time().replace(second=0, microsecond=0),
        }
    return forms.MaintenanceWindowForm(data, initial=initial, zone=zone, allow_now=allow_now)


# Place order stays reachable while the tenant is locked: a second click after the first one
# locked the tenant must find the first order, not the lock page. The service refuses a
# different order while an upgrade runs.
@require_POST
@tenant_view(Cap.PURCHASE, lock_exempt=True)
def upgrade_place(request, cart_id):
    # Another tenant's cart is a cart that does not exist: 404 before the form is read, as on
    # every page that names it (never a redirect to a checkout that would then be a 404).
    cart = selectors.upgrade_cart_get(tenant=request.tenant, pk=cart_id)
    form = forms.PlaceOrderForm(request.POST)
    if not form.is_valid():
        return redirect("upgrade_checkout", request.tenant.slug, cart.pk)
    try:
        run = services.upgrade_place(
            tenant=request.tenant,
            actor=request.user,
            cart=cart,
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except DomainError as error:
        if error.code == "not_found":
            raise Http404 from error
        messages.error(request, error.message)
        if error.code in {"upgrade_in_progress"}:
            return redirect("upgrade_tab", request.tenant.slug, cart.source_id)
        return redirect("upgrade_checkout", request.tenant.slug, cart.pk)
    return redirect("upgrade_status", request.tenant.slug, run.pk)


# --- Status --------------------------------------------------------------------------------


def _steps(run):
    """The status page's step list, from the times the run entered each step."""
    entered = {state: dt.datetime.fromisoformat(at) for state, at in (run.step_times or {}).items()}
    current = run.failed_step if run.state == RunState.FAILED else run.state
    if current not in STEPS:
        # Ended off the path (cancelled before its window, declined): the steps it entered
        # are done, none is current, the rest were never reached.
        return [
            {
                "label": RunState(step).label,
                "at": entered.get(step),
                "status": "done" if step in entered else "pending",
            }
            for step in STEPS
            if step in entered or step not in (RunState.SCHEDULED, RunState.AWAITING_CREDIT_CHECK)
        ]
    rows, reached = [], True
    for step in STEPS:
        if step in (RunState.SCHEDULED, RunState.AWAITING_CREDIT_CHECK) and step not in entered:
            continue
        if step == current:
            status = "failed" if run.state == RunState.FAILED else "current"
            if step == RunState.COMPLETED:
                status = "done"
            reached = False
        elif reached:
            status = "done"
        else:
            status = "pending"
        rows.append({"label": RunState(step).label, "at": entered.get(step), "status": status})
    return rows


def _status_context(request, run, *, invoices: bool) -> dict:
    tenant = request.tenant
    return {
        "run": run,
        "steps": _steps(run),
        "invoices": selectors.upgrade_run_invoices(run=run)
        if invoices and run.is_terminal
        else None,
        "source_url": reverse("upgrade_tab", args=[tenant.slug, run.source_id]),
        "new_url": _subscription_url(tenant, run.new_subscription_id)
        if run.new_subscription_id
        else "",
    }


@tenant_view(lock_exempt=True, preload=selectors.upgrade_run_access_get)
def upgrade_status(request, run):
    """The run's status page, and the fragment its htmx poll fetches every second while the
    run is active: two queries (the user, and the run with the caller's access; the session
    comes from the cache), whatever the tenant's size. A finished run's invoices are read by
    the whole page, or by the fragment's own request once (upgrade_status_invoices)."""
    context = _status_context(request, run, invoices=not is_fragment_request(request))
    return page_or_partial(request, "upgrades/status.html", context, partial="run-status")


@tenant_view(lock_exempt=True, preload=selectors.upgrade_run_access_get)
def upgrade_status_invoices(request, run):
    """The invoices of a finished run's order: the table the last poll's fragment loads (the
    whole status page when asked for without htmx)."""
    context = _status_context(request, run, invoices=True)
    return page_or_partial(request, "upgrades/status.html", context, partial="run-invoices")
