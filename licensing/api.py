"""License endpoints of the JSON API: list holders; assign, unassign and replace in bulk.

Users are named by user principal name. A request is all or nothing: one unknown user (or
another tenant's), one user named twice, an unknown subscription or any broken rule refuses the
whole request and changes nothing. There is no 20-user limit; the services apply the change in
batches inside one transaction."""

from django.utils.translation import gettext as _

from billing.selectors import subscription_get
from portal.api.framework import (
    ApiError,
    clean_text,
    endpoint,
    id_field,
    invalid,
    json_body,
    query_id,
    query_limit,
)
from portal.roles import Cap

from . import services
from .bulk import directory_user_ids_for_upns, license_holder_page

UPN_MAX_LENGTH = 200
# A request names at most this many users (about 2 MB of JSON, Django's default body limit).
MAX_USERS_PER_REQUEST = 50_000
HOLDERS_PAGE_DEFAULT = 100
HOLDERS_PAGE_MAX = 1000


def _users(body: dict) -> list[str]:
    upns = body.get("users")
    if not isinstance(upns, list) or not upns:
        raise invalid("users", _("users must be a non-empty list of user principal names."))
    if len(upns) > MAX_USERS_PER_REQUEST:
        raise invalid(
            "users",
            _("A request can name at most %(max)d users.") % {"max": MAX_USERS_PER_REQUEST},
        )
    cleaned = []
    for upn in upns:
        value = clean_text(upn, field="users", max_length=UPN_MAX_LENGTH).strip(" ")
        if not value:
            raise invalid("users", _("A user principal name cannot be empty."))
        cleaned.append(value)
    return cleaned


def _refuse_unknown_fields(body: dict, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(unknown)},
            details={"fields": unknown},
        )


@endpoint(cap=Cap.VIEW)
def license_list(request):
    """GET licenses?subscription_id=&after=&limit= : who holds the subscription's licenses."""
    subscription_id = query_id(request, "subscription_id", required=True)
    after = query_id(request, "after")
    limit = query_limit(request, default=HOLDERS_PAGE_DEFAULT, maximum=HOLDERS_PAGE_MAX)
    subscription = subscription_get(tenant=request.tenant, pk=subscription_id)
    rows, more = license_holder_page(
        tenant=request.tenant, subscription_id=subscription.pk, after=after, limit=limit
    )
    return {
        "subscription_id": subscription.pk,
        "items": [
            {
                "user_id": row["user_id"],
                "upn": row["user__upn"],
                "display_name": row["user__display_name"],
                "assigned_at": row["assigned_at"].isoformat(),
            }
            for row in rows
        ],
        "next_after": rows[-1]["user_id"] if rows and more else None,
    }


def _single_subscription_change(request, *, operation: str, service):
    """assign and unassign take the same body: one subscription and the users' UPNs."""
    body = json_body(request)
    _refuse_unknown_fields(body, {"subscription_id", "users"})
    subscription_id = id_field(body, "subscription_id")
    user_ids = directory_user_ids_for_upns(tenant=request.tenant, upns=_users(body))
    changed = service(
        tenant=request.tenant,
        actor=request.access.user,
        subscription_id=subscription_id,
        user_ids=user_ids,
        max_users=None,
    )
    return {"operation": operation, "subscription_id": subscription_id, "changed": changed}


@endpoint(cap=Cap.LICENSES)
def license_assign(request):
    return _single_subscription_change(request, operation="assign", service=services.license_assign)


@endpoint(cap=Cap.LICENSES)
def license_unassign(request):
    return _single_subscription_change(
        request, operation="unassign", service=services.license_unassign
    )


@endpoint(cap=Cap.LICENSES)
def license_replace(request):
    body = json_body(request)
    _refuse_unknown_fields(body, {"source_id", "target_id", "users"})
    source_id = id_field(body, "source_id")
    target_id = id_field(body, "target_id")
    upns = _users(body)
    user_ids = directory_user_ids_for_upns(tenant=request.tenant, upns=upns)
    changed = services.license_replace(
        tenant=request.tenant,
        actor=request.access.user,
        source_id=source_id,
        target_id=target_id,
        user_ids=user_ids,
        max_users=None,
    )
    return {
        "operation": "replace",
        "source_id": source_id,
        "target_id": target_id,
        "changed": changed,
    }
