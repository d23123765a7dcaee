"""The admin center's API tokens page, where an admin creates and revokes their tokens. (The API
itself is config/api.py with each app's router.)

The page stays open while an upgrade locks the tenant, so that an admin can always revoke a
leaked token; creating one is refused while locked (by the service, and the form is not shown)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import clock
from portal.access import tenant_view
from portal.errors import DomainError
from portal.models import Role
from portal.roles import TokenScope, token_scopes_normalized
from portal.selectors import admin_lock_get

from . import selectors, services
from .forms import ApiTokenCreateForm


def _tokens_context(request, *, membership, form, created=None):
    sees_all = request.access.is_support or (
        membership is not None and membership.role == Role.GLOBAL_ADMIN
    )
    tokens = selectors.api_token_list(
        tenant=request.tenant, membership=None if sees_all else membership
    )
    if membership is None and not request.access.is_support:
        tokens = tokens.none()
    tokens = list(tokens)
    for token in tokens:
        token.scope_labels = [TokenScope(s).label for s in token_scopes_normalized(token.scopes)]
    return {
        "form": form,
        "tokens": tokens,
        "created": created,
        "membership": membership,
        "sees_all": sees_all,
        "can_create": membership is not None,
        "lock": admin_lock_get(tenant_slug=request.tenant.slug) if membership else None,
        "now": clock.now(),
    }


@tenant_view(lock_exempt=True)
def api_tokens(request):
    """List tokens and create one. A new token is shown once, in the response to the POST
    that created it: it is not stored anywhere it could be shown again."""
    membership = selectors.membership_get(tenant=request.tenant, user=request.user)
    role = membership.role if membership is not None else None
    form = ApiTokenCreateForm(request.POST or None, role=role)
    created = None
    if request.method == "POST":
        if membership is None:
            # Support engineers read every tenant but act in none of them.
            raise PermissionDenied(_("Only the organisation's own admins can create API tokens."))
        if form.is_valid():
            try:
                token, raw = services.api_token_create(
                    membership=membership,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_in_days=form.cleaned_data["expires_in_days"],
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                created = {"token": token, "raw": raw}
                form = ApiTokenCreateForm(role=role)
    response = render(
        request,
        "portal/api_tokens.html",
        _tokens_context(request, membership=membership, form=form, created=created),
    )
    if created:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@tenant_view(lock_exempt=True)
def api_token_revoke(request, token_id):
    """Revoke a token, locked tenant or not (see api_token_revoke). Revoking a token that is not
    one's own (unless a Global admin) is forbidden, as every refused write: 403."""
    token = selectors.api_token_get(tenant=request.tenant, pk=token_id)
    if token is None:
        raise Http404
    membership = selectors.membership_get(tenant=request.tenant, user=request.user)
    try:
        services.api_token_revoke(token=token, actor=request.user, actor_membership=membership)
    except DomainError as error:
        if error.code == "forbidden":
            raise PermissionDenied(error.message) from error
        messages.error(request, error.message)
    else:
        messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api_tokens", tenant_slug=request.tenant.slug)
