from django.shortcuts import render

from portal.access import tenant_view

from . import selectors


@tenant_view()
def users(request):
    query = request.GET.get("q", "").strip()
    page = selectors.directory_user_page(tenant=request.tenant, query=query)
    template = "licensing/users.html"
    if request.htmx:
        template += "#user-table"
    return render(request, template, {"users": page, "q": query})
