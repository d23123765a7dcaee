from django.shortcuts import render

from portal.access import tenant_view

from . import selectors


@tenant_view()
def products(request):
    status = request.GET.get("status", "active")
    subscriptions = selectors.subscription_list(tenant=request.tenant, status=status)
    template = "billing/products.html"
    if request.htmx:
        template += "#product-table"
    return render(
        request,
        template,
        {
            "subscriptions": subscriptions,
            "status": status,
            "status_choices": list(selectors.STATUS_FILTERS),
        },
    )
