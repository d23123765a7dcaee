"""Billing: the credit balance with its ledger, every invoice and credit note, one invoice with
its lines, credits and payments, and its printable copy (to print or download); and Pay now."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.access import tenant_view
from portal.errors import DomainError
from portal.roles import Cap

from .. import payments, selectors
from ..renewals import grace_deadline
from .params import next_url

INVOICES_PER_PAGE = 25
ENTRIES_SHOWN = 50


@tenant_view()
def billing_overview(request):
    tenant = request.tenant
    page = Paginator(selectors.invoice_list(tenant=tenant), INVOICES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "billing/billing.html",
        {
            "balance": selectors.credit_balance(tenant=tenant),
            "entries": selectors.credit_entry_list(tenant=tenant)[:ENTRIES_SHOWN],
            "page": page,
            "unpaid_invoices": selectors.invoice_list_unpaid(tenant=tenant),
        },
    )


def _invoice_context(request, invoice_id):
    invoice = selectors.invoice_get(tenant=request.tenant, pk=invoice_id)
    lines = list(invoice.lines.all())
    renewal = any(line.kind == "renewal" for line in lines)
    return {
        "invoice": invoice,
        "lines": lines,
        "entries": list(invoice.credit_entries.all()),
        "payments": list(invoice.payments.all()),
        "grace_deadline": grace_deadline(invoice)
        if renewal and invoice.state == invoice.State.UNPAID
        else None,
        "billing_profile": selectors.billing_profile_get(tenant=request.tenant),
    }


@tenant_view()
def invoice_detail(request, invoice_id):
    return render(request, "billing/invoice.html", _invoice_context(request, invoice_id))


@tenant_view()
def invoice_print(request, invoice_id):
    """A standalone page to print, or with ?download=1 to save as a file."""
    context = _invoice_context(request, invoice_id)
    response = render(request, "billing/invoice_print.html", context)
    if request.GET.get("download") == "1":
        response["Content-Disposition"] = f'attachment; filename="{context["invoice"].number}.html"'
    return response


@require_POST
@tenant_view(Cap.PAYMENT)
def invoice_pay(request, invoice_id):
    tenant = request.tenant
    try:
        invoice = payments.invoice_pay(tenant=tenant, invoice_id=invoice_id, actor=request.user)
    except DomainError as error:
        if error.code == "not_found":
            # Another tenant's invoice answers as one that does not exist, and as every page
            # naming it does: 404, with nothing paid and nothing said about it.
            raise Http404 from error
        messages.error(request, error.message)
    else:
        messages.success(request, _("Invoice %(number)s is paid.") % {"number": invoice.number})
    return HttpResponseRedirect(next_url(request, reverse("products", args=[tenant.slug])))
