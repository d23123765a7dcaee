from django.shortcuts import render

from billing.selectors import subscription_get
from portal.access import tenant_view


@tenant_view()
def upgrade_tab(request, subscription_id):
    subscription = subscription_get(tenant=request.tenant, pk=subscription_id)
    return render(request, "upgrades/tab.html", {"subscription": subscription})
