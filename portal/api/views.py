"""The admin center's API tokens page, where an admin creates and revokes their tokens. (The API
itself is config/api.py with each app's router.)"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.access import tenant_view
from portal.errors import DomainError
from portal.models import Role

from . import selectors, services
from .forms import ApiTokenCreateForm


def _tokens_context(request, *, form, created=None):
    membership = selectors.membership_get(tenant=request.tenant, user=request.user)
    sees_all = request.access.is_support or (
        membership is not None and membership.role == Role.GLOBAL_ADMIN
    )
    tokens = selectors.api_token_list(
        tenant=request.tenant, membership=None if sees_all else membership
    )
    if membership is None and not request.access.is_support:
        tokens = tokens.none()
    return {
        "form": form,
        "tokens": tokens,
        "created": created,
        "membership": membership,
        "sees_all": sees_all,
        "can_create": membership is not None,
    }


@tenant_view()
def api_tokens(request):
    """List tokens and create one. A new token is shown once, in the response to the POST
    that created it: it is not stored anywhere it could be shown again."""
    form = ApiTokenCreateForm(request.POST or None)
    created = None
    if request.method == "POST":
        membership = selectors.membership_get(tenant=request.tenant, user=request.user)
        if membership is None:
            # Support engineers read every tenant but act in none of them.
            raise PermissionDenied(_("Only the organisation's own admins can create API tokens."))
        if form.is_valid():
            try:
                token, raw = services.api_token_create(
                    membership=membership, name=form.cleaned_data["name"]
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                created = {"token": token, "raw": raw}
                form = ApiTokenCreateForm()
    response = render(
        request, "portal/api_tokens.html", _tokens_context(request, form=form, created=created)
    )
    if created:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@tenant_view()
def api_token_revoke(request, token_id):
    token = selectors.api_token_get(tenant=request.tenant, pk=token_id)
    if token is None:
        raise Http404
    membership = selectors.membership_get(tenant=request.tenant, user=request.user)
    try:
        services.api_token_revoke(token=token, actor=request.user, actor_membership=membership)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api_tokens", tenant_slug=request.tenant.slug)
