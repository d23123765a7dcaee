"""Buying a subscription or an add-on: product -> cart -> checkout (a frozen quote with its
idempotency key) -> place order, the order page, and the checkout's "Change" pages for Billed
to and Sold to. Cart and checkout live in the session; each step redirects to the step
before it when its precondition fails."""

import datetime as dt
import secrets
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.access import tenant_view
from portal.errors import DomainError
from portal.roles import Cap

from .. import forms, orders, payments, selectors, services
from ..models import PaymentMethod
from .params import id_or_404, next_url

# How long a frozen checkout quote stays valid before checkout prices it again.
CHECKOUT_FRESH_FOR = dt.timedelta(minutes=30)


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
    # Every parent the request names, in the address and in the form, is looked up: one that
    # is not the tenant's is a 404 even where the other one would be used.
    named = (id_or_404(request.GET.get("parent")), id_or_404(request.POST.get("parent")))
    bases = [selectors.subscription_get(tenant=tenant, pk=pk) for pk in named if pk]
    base = bases[0] if bases else None
    parent_id = base.pk if base else None
    choices = selectors.addon_list_for_base(base=base) if base else selectors.plan_list_on_sale()
    choices = selectors.product_list_with_prices(choices, currency=tenant.currency)
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
    profile = selectors.billing_profile_get(tenant=tenant)
    invoice_allowed = payments.invoice_allowed(
        total=total, invoice_eligible=bool(profile and profile.invoice_eligible)
    )
    # The payment method is chosen on the checkout page itself, with the order (a form sent
    # back keeps the admin's choice); an invoice the order may not use is shown, disabled.
    chosen = form["payment_method"].value()
    return {
        "checkout": checkout,
        "quote": checkout["snapshot"],
        "profile": profile,
        "form": form,
        "payment_choice": PaymentMethod.INVOICE
        if chosen == PaymentMethod.INVOICE and invoice_allowed
        else PaymentMethod.CARD,
        "invoice_allowed": invoice_allowed,
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
        profile = selectors.billing_profile_get(tenant=tenant)
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
                next_url(request, reverse("purchase_checkout", args=[tenant.slug]))
            )
    return render(
        request,
        template,
        {"form": form, "title": title, "next": next_url(request, "")},
        status=400 if request.method == "POST" else 200,
    )


@tenant_view(Cap.PAYMENT)
def billed_to_edit(request):
    profile = selectors.billing_profile_get(tenant=request.tenant)
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
