"""Your products, subscription details (Overview, Licenses, Add-ons tabs) and the actions on
a subscription: buy or remove licenses, cancel, reactivate; and Pay now on an unpaid invoice.
Views parse, call a service or selector, and render; every form posts and redirects (PRG),
and htmx requests get the page's named partial."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from portal.access import tenant_view
from portal.errors import DomainError
from portal.htmx import page_or_partial
from portal.roles import Cap

from .. import forms, rules, selectors, services
from .params import id_or_404

STATUS_LABELS = {
    "active": gettext_lazy("Active"),
    "expired": gettext_lazy("Expired"),
    "disabled": gettext_lazy("Disabled"),
    "all": gettext_lazy("All"),
}
TABS = ("overview", "licenses", "addons")


# --- Your products ----------------------------------------------------------------------------


# The commands of Your products' command bar, each acting on the subscription chosen in the
# list: the page each one opens. Every one needs the Purchase capability (Global and Billing
# admins); the pages they open check it again.
PRODUCT_COMMANDS = {
    "add": "subscription_licenses_add",
    "remove": "subscription_licenses_remove",
    "upgrade": "upgrade_tab",
}


def _product_command(request, command):
    tenant = request.tenant
    if not request.access.can(Cap.PURCHASE):
        raise PermissionDenied(_("Your admin role does not allow this action."))
    subscription_id = id_or_404(request.GET.get("subscription"))
    if subscription_id is None:
        messages.warning(request, _("Select a subscription in the list first."))
        return redirect("products", tenant.slug)
    subscription = selectors.subscription_get(tenant=tenant, pk=subscription_id)
    if command == "upgrade" and subscription.is_addon:
        messages.warning(
            request,
            _("%(product)s is an add-on: upgrade the subscription it belongs to.")
            % {"product": subscription.product.name},
        )
        return redirect("products", tenant.slug)
    return redirect(PRODUCT_COMMANDS[command], tenant.slug, subscription.pk)


@tenant_view()
def products(request):
    tenant = request.tenant
    command = request.GET.get("command")
    if command in PRODUCT_COMMANDS:
        return _product_command(request, command)
    status = request.GET.get("status", "active")
    if status not in selectors.STATUS_FILTERS:
        status = "active"
    subscriptions = list(selectors.subscription_list(tenant=tenant, status=status))
    # Only lists that can hold an expired or disabled subscription can hold an upgraded one.
    replaced = selectors.subscription_upgraded_to_map(tenant=tenant) if status != "active" else {}
    for subscription in subscriptions:
        subscription.replaced_by = replaced.get(subscription.pk)
    return page_or_partial(
        request,
        "billing/products.html",
        {
            "subscriptions": subscriptions,
            "status": status,
            "status_choices": list(STATUS_LABELS.items()),
            "unpaid_invoices": selectors.invoice_list_unpaid(tenant=tenant),
            "waiting_orders": selectors.order_list_waiting(tenant=tenant),
            "can_command": request.access.can(Cap.PURCHASE),
        },
        partial="product-table",
    )


# --- Subscription details ---------------------------------------------------------------------


def _subscription_context(request, subscription, tab, **extra):
    tenant = request.tenant
    pending = selectors.credit_check_pending(tenant=tenant)
    replaced_by = selectors.subscription_upgraded_to(subscription=subscription)
    context = {
        "subscription": subscription,
        "tab": tab,
        "key_date": rules.key_date(subscription),
        "users_have_access": rules.users_have_access(subscription),
        "blockers": {
            "assign": rules.assign_blockers(subscription),
            "add": _count_blockers(subscription, "add", credit_check_pending=pending),
            "remove": _count_blockers(subscription, "remove", credit_check_pending=pending),
            "cancel": rules.cancel_blockers(subscription),
            "reactivate": rules.reactivate_blockers(subscription, upgraded_to=replaced_by),
        },
        "replaced_by": replaced_by,
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


def _count_blockers(subscription, direction, *, credit_check_pending):
    if direction == "add":
        return rules.add_licenses_blockers(subscription)
    return rules.remove_licenses_blockers(
        subscription, assigned=subscription.assigned, credit_check_pending=credit_check_pending
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
            "blockers": _count_blockers(
                subscription,
                direction,
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
