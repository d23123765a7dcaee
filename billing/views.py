"""Billing pages: Your products, subscription details and its actions, the buy flow (cart ->
checkout -> place order) and Pay now. Views parse, call a service or selector, and render;
every form posts and redirects (PRG), and htmx requests get the page's named partial."""

import datetime as dt
import secrets
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from portal.access import tenant_view
from portal.errors import DomainError
from portal.roles import Cap

from . import forms, orders, payments, rules, selectors, services
from .models import BillingProfile, PaymentMethod
from .partials import page_or_partial

STATUS_LABELS = {
    "active": gettext_lazy("Active"),
    "expired": gettext_lazy("Expired"),
    "disabled": gettext_lazy("Disabled"),
    "all": gettext_lazy("All"),
}
TABS = ("overview", "licenses", "addons")
# How long a frozen checkout quote stays valid before checkout prices it again.
CHECKOUT_FRESH_FOR = dt.timedelta(minutes=30)


def _id_or_404(value) -> int | None:
    """An id from a query string or form: missing is None, anything but a whole number is a
    page that does not exist (like an unknown id), never a server error."""
    if not value:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def _next_url(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# --- Your products ----------------------------------------------------------------------------


@tenant_view()
def products(request):
    tenant = request.tenant
    services.subscriptions_activate_due(tenant=tenant)
    status = request.GET.get("status", "active")
    if status not in selectors.STATUS_FILTERS:
        status = "active"
    return page_or_partial(
        request,
        "billing/products.html",
        {
            "subscriptions": selectors.subscription_list(tenant=tenant, status=status),
            "status": status,
            "status_choices": list(STATUS_LABELS.items()),
            "unpaid_invoices": selectors.invoice_list_unpaid(tenant=tenant),
            "waiting_orders": selectors.order_list_waiting(tenant=tenant),
        },
        partial="product-table",
    )


# --- Subscription details ---------------------------------------------------------------------


def _subscription_context(request, subscription, tab, **extra):
    tenant = request.tenant
    pending = selectors.credit_check_pending(tenant=tenant)
    context = {
        "subscription": subscription,
        "tab": tab,
        "key_date": rules.key_date(subscription),
        "users_have_access": rules.users_have_access(subscription),
        "blockers": {
            "assign": rules.assign_blockers(subscription),
            "add": rules.add_licenses_blockers(subscription),
            "remove": rules.remove_licenses_blockers(
                subscription, assigned=subscription.assigned, credit_check_pending=pending
            ),
            "cancel": rules.cancel_blockers(subscription),
            "reactivate": rules.reactivate_blockers(subscription),
        },
        "conflict": subscription.assigned - subscription.quantity,
        "add_form": forms.LicenseCountForm(prefix="add"),
        "remove_form": forms.LicenseCountForm(prefix="remove"),
        "unpaid_invoices": selectors.invoice_list_unpaid(tenant=tenant),
    }
    if tab == "overview":
        context["history"] = selectors.subscription_status_history(subscription=subscription)
    if tab == "addons" and not subscription.is_addon:
        context["addons"] = selectors.addon_list(tenant=tenant, base=subscription)
        context["addon_products"] = selectors.addon_list_for_base(base=subscription)
    context.update(extra)
    return context


@tenant_view()
def subscription_detail(request, subscription_id):
    services.subscriptions_activate_due(tenant=request.tenant)
    subscription = selectors.subscription_get(tenant=request.tenant, pk=subscription_id)
    tab = request.GET.get("tab", "overview")
    if tab not in TABS:
        tab = "overview"
    return page_or_partial(
        request,
        "billing/subscription.html",
        _subscription_context(request, subscription, tab),
        partial="tab-panel",
    )


def _license_count_change(request, subscription_id, *, direction):
    tenant = request.tenant
    subscription = selectors.subscription_get(tenant=tenant, pk=subscription_id)
    form = forms.LicenseCountForm(request.POST or None, prefix=direction)
    if request.method == "POST" and form.is_valid():
        service = (
            services.subscription_licenses_add
            if direction == "add"
            else services.subscription_licenses_remove
        )
        try:
            service(
                tenant=tenant,
                actor=request.user,
                subscription_id=subscription.pk,
                count=form.cleaned_data["count"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            count = form.cleaned_data["count"]
            message = (
                ngettext("%(count)d license added.", "%(count)d licenses added.", count)
                if direction == "add"
                else ngettext("%(count)d license removed.", "%(count)d licenses removed.", count)
            ) % {"count": count}
            if request.htmx:
                subscription = selectors.subscription_get(tenant=tenant, pk=subscription.pk)
                return page_or_partial(
                    request,
                    "billing/subscription.html",
                    _subscription_context(request, subscription, "licenses", done=message),
                    partial="tab-panel",
                )
            messages.success(request, message)
            url = reverse("subscription_detail", args=[tenant.slug, subscription.pk])
            return redirect(f"{url}?tab=licenses")
    status = 400 if request.method == "POST" else 200
    if request.htmx:
        extra = {f"{direction}_form": form}
        return page_or_partial(
            request,
            "billing/subscription.html",
            _subscription_context(request, subscription, "licenses", **extra),
            partial="tab-panel",
            status=200,
        )
    return render(
        request,
        "billing/license_count.html",
        {
            "subscription": subscription,
            "form": form,
            "direction": direction,
            "blockers": rules.add_licenses_blockers(subscription)
            if direction == "add"
            else rules.remove_licenses_blockers(
                subscription,
                assigned=subscription.assigned,
                credit_check_pending=selectors.credit_check_pending(tenant=tenant),
            ),
        },
        status=status,
    )


@tenant_view(Cap.PURCHASE)
def licenses_add(request, subscription_id):
    return _license_count_change(request, subscription_id, direction="add")


@tenant_view(Cap.PURCHASE)
def licenses_remove(request, subscription_id):
    return _license_count_change(request, subscription_id, direction="remove")


@tenant_view(Cap.PURCHASE)
def subscription_cancel(request, subscription_id):
    tenant = request.tenant
    subscription = selectors.subscription_get(tenant=tenant, pk=subscription_id)
    form = forms.CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.subscription_cancel(
                tenant=tenant,
                actor=request.user,
                subscription_id=subscription.pk,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("%(product)s is cancelled and now disabled.")
                % {"product": subscription.product.name},
            )
            return redirect("subscription_detail", tenant.slug, subscription.pk)
    return render(
        request,
        "billing/cancel.html",
        {
            "subscription": subscription,
            "form": form,
            "blockers": rules.cancel_blockers(subscription),
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@tenant_view(Cap.PURCHASE)
def subscription_reactivate(request, subscription_id):
    tenant = request.tenant
    subscription = selectors.subscription_get(tenant=tenant, pk=subscription_id)
    try:
        services.subscription_reactivate(
            tenant=tenant, actor=request.user, subscription_id=subscription.pk
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("%(product)s is active again.") % {"product": subscription.product.name}
        )
    return redirect("subscription_detail", tenant.slug, subscription.pk)


@require_POST
@tenant_view(Cap.PAYMENT)
def invoice_pay(request, invoice_id):
    tenant = request.tenant
    try:
        invoice = payments.invoice_pay(tenant=tenant, invoice_id=invoice_id, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Invoice %(number)s is paid.") % {"number": invoice.number})
    return HttpResponseRedirect(_next_url(request, reverse("products", args=[tenant.slug])))


# --- Buy a subscription: product -> cart -> checkout -> place order ---------------------------


def _cart_key(tenant):
    return f"billing:cart:{tenant.slug}"


def _checkout_key(tenant):
    return f"billing:checkout:{tenant.slug}"


def _cart(request) -> orders.PurchaseCart | None:
    data = request.session.get(_cart_key(request.tenant))
    return orders.PurchaseCart.from_json(data) if data else None


@tenant_view(Cap.PURCHASE)
def purchase_start(request):
    tenant = request.tenant
    cart = _cart(request)
    parent_id = _id_or_404(request.GET.get("parent") or request.POST.get("parent"))
    base = None
    if parent_id:
        base = selectors.subscription_get(tenant=tenant, pk=parent_id)
        choices = selectors.addon_list_for_base(base=base)
    else:
        choices = selectors.plan_list_on_sale()
    initial = {"quantity": 1, "billing_frequency": "monthly", "parent": parent_id}
    if request.GET.get("product"):
        initial["product"] = request.GET["product"]
    elif cart and cart.parent_id == parent_id:
        initial.update(
            product=cart.product_code,
            quantity=cart.quantity,
            billing_frequency=cart.billing_frequency,
        )
    form = forms.PurchaseForm(request.POST or None, products=choices, initial=initial)
    if request.method == "POST" and form.is_valid():
        new_cart = orders.PurchaseCart(
            product_code=form.cleaned_data["product"].code,
            quantity=form.cleaned_data["quantity"],
            billing_frequency=form.cleaned_data["billing_frequency"],
            parent_id=base.pk if base else None,
        )
        try:
            orders.purchase_cart_check(tenant=tenant, cart=new_cart)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            request.session[_cart_key(tenant)] = new_cart.as_json()
            request.session.pop(_checkout_key(tenant), None)
            return redirect("purchase_cart", tenant.slug)
    return render(
        request,
        "billing/buy.html",
        {"form": form, "base": base},
        status=400 if request.method == "POST" else 200,
    )


@tenant_view(Cap.PURCHASE)
def purchase_cart(request):
    tenant = request.tenant
    cart = _cart(request)
    if request.method == "POST" and request.POST.get("action") == "empty":
        request.session.pop(_cart_key(tenant), None)
        request.session.pop(_checkout_key(tenant), None)
        messages.info(request, _("Your cart is empty."))
        return redirect("products", tenant.slug)
    if cart is None:
        return redirect("purchase_start", tenant.slug)
    try:
        quote = orders.purchase_quote(tenant=tenant, cart=cart)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("purchase_start", tenant.slug)
    return render(request, "billing/cart.html", {"quote": quote, "cart": cart})


def _fresh_checkout(request, cart):
    """The frozen quote of this checkout: priced once when checkout opens, and kept (with its
    idempotency key) while the admin looks at it, changes an address, or reloads."""
    tenant = request.tenant
    checkout = request.session.get(_checkout_key(tenant))
    if checkout and checkout["snapshot"]["cart"] == cart.as_json():
        opened = dt.datetime.fromisoformat(checkout["opened"])
        if timezone.now() - opened < CHECKOUT_FRESH_FOR:
            return checkout
    checkout = {
        "key": secrets.token_urlsafe(24),
        "snapshot": orders.purchase_quote(tenant=tenant, cart=cart),
        "opened": timezone.now().isoformat(),
    }
    request.session[_checkout_key(tenant)] = checkout
    return checkout


def _checkout_context(request, checkout, form):
    tenant = request.tenant
    total = Decimal(checkout["snapshot"]["total"])
    profile = BillingProfile.objects.filter(tenant=tenant).first()
    return {
        "checkout": checkout,
        "quote": checkout["snapshot"],
        "profile": profile,
        "form": form,
        "invoice_allowed": payments.invoice_allowed(
            total=total, invoice_eligible=bool(profile and profile.invoice_eligible)
        ),
        "invoice_minimum": payments.invoice_minimum(),
        "credit_check_card": payments.credit_check_required(
            total=total, payment_method=PaymentMethod.CARD
        ),
        "credit_check_invoice": payments.credit_check_required(
            total=total, payment_method=PaymentMethod.INVOICE
        ),
    }


@tenant_view(Cap.PURCHASE)
def purchase_checkout(request):
    cart = _cart(request)
    if cart is None:
        return redirect("purchase_start", request.tenant.slug)
    try:
        checkout = _fresh_checkout(request, cart)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("purchase_start", request.tenant.slug)
    form = forms.PlaceOrderForm(initial={"idempotency_key": checkout["key"]})
    return render(request, "billing/checkout.html", _checkout_context(request, checkout, form))


def _order_result(tenant, order):
    if order.subscription_id:
        return redirect("subscription_detail", tenant.slug, order.subscription_id)
    return redirect("order_detail", tenant.slug, order.pk)


@require_POST
@tenant_view(Cap.PURCHASE)
def purchase_place(request):
    tenant = request.tenant
    form = forms.PlaceOrderForm(request.POST)
    key = request.POST.get("idempotency_key", "")
    # A replay (double click, re-sent POST) of an order that exists leads to that order.
    existing = selectors.order_get_by_key(tenant=tenant, idempotency_key=key)
    if existing is not None:
        return _order_result(tenant, existing)
    checkout = request.session.get(_checkout_key(tenant))
    if checkout is None or checkout["key"] != key:
        messages.error(request, _("This checkout has expired; check the order and place it again."))
        return redirect("purchase_checkout", tenant.slug)
    if form.is_valid():
        profile = BillingProfile.objects.filter(tenant=tenant).first()
        try:
            order = orders.purchase_place(
                tenant=tenant,
                actor=request.user,
                idempotency_key=key,
                snapshot=checkout["snapshot"],
                payment_method=form.cleaned_data["payment_method"],
                po_number=profile.po_number if profile else "",
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            request.session.pop(_cart_key(tenant), None)
            request.session.pop(_checkout_key(tenant), None)
            if order.subscription_id:
                messages.success(
                    request,
                    _("Order placed. %(product)s is being set up.")
                    % {"product": checkout["snapshot"]["product_name"]},
                )
            return _order_result(tenant, order)
    return render(
        request, "billing/checkout.html", _checkout_context(request, checkout, form), status=400
    )


@tenant_view()
def order_detail(request, order_id):
    order = selectors.order_get(tenant=request.tenant, pk=order_id)
    return render(request, "billing/order.html", {"order": order})


def _profile_form_view(request, *, form_class, initial, service, template, title):
    tenant = request.tenant
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            service(tenant=tenant, actor=request.user, data=form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        except ValidationError as error:  # the model's own checks, run by the service
            form.add_error(None, "; ".join(error.messages))
        else:
            messages.success(request, _("Saved."))
            return HttpResponseRedirect(
                _next_url(request, reverse("purchase_checkout", args=[tenant.slug]))
            )
    return render(
        request,
        template,
        {"form": form, "title": title, "next": _next_url(request, "")},
        status=400 if request.method == "POST" else 200,
    )


@tenant_view(Cap.PAYMENT)
def billed_to_edit(request):
    profile = BillingProfile.objects.filter(tenant=request.tenant).first()
    initial = {}
    if profile is not None:
        initial = {name: getattr(profile, name) for name in forms.BilledToForm.base_fields}
    return _profile_form_view(
        request,
        form_class=forms.BilledToForm,
        initial=initial,
        service=services.billing_profile_update,
        template="billing/profile_form.html",
        title=_("Billed to"),
    )


@tenant_view(Cap.PURCHASE)
def sold_to_edit(request):
    tenant = request.tenant
    initial = {name: getattr(tenant, name) for name in forms.SoldToForm.base_fields}
    return _profile_form_view(
        request,
        form_class=forms.SoldToForm,
        initial=initial,
        service=services.sold_to_update,
        template="billing/profile_form.html",
        title=_("Sold to"),
    )
