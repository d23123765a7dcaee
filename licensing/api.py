"""License endpoints of the JSON API: list holders; assign, unassign and replace in bulk.
Mounted under /api/v1/tenants/<tenant_slug>/ by config/api.py.

Users are named by user principal name. A request is all or nothing: one unknown user (or
another tenant's), one user named twice, an unknown subscription or any broken rule refuses the
whole request and changes nothing. There is no 20-user limit; the services apply the change in
batches inside one transaction.

A subscription id of the body that is not the tenant's (another tenant's or none) is 404
`not_found`, the answer the same id gets in a path. A UPN that is not the tenant's is a name the
directory does not know, not an id: it is 422 `unknown_users` listing the names to fix, the same
for another tenant's user as for a name nobody has."""

from typing import Annotated, Literal

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from pydantic import AfterValidator, ConfigDict
from pydantic_core import PydanticCustomError

from billing.selectors import subscription_get
from portal.api.auth import TokenAuth
from portal.api.errors import api_responses
from portal.api.fields import MAX_ID, DateTimeText, Id, QueryInt, TenantSlug, printable
from portal.errors import DomainError
from portal.roles import Cap

from . import services
from .bulk import directory_user_ids_for_upns, license_holder_page

UPN_MAX_LENGTH = 200
# A request names at most this many users (about 2 MB of JSON, Django's default body limit).
MAX_USERS_PER_REQUEST = 50_000
HOLDERS_PAGE_DEFAULT = 100
HOLDERS_PAGE_MAX = 1000

router = Router(tags=["licenses"])


def _upn(value: str) -> str:
    value = printable(value).strip(" ")
    if not value:
        raise PydanticCustomError("upn_empty", _("A user principal name cannot be empty."))
    return value


# Printable text with at least one character that is not a space (the rule _upn applies).
UPN_PATTERN = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
Upn = Annotated[
    str,
    Field(strict=True, max_length=UPN_MAX_LENGTH, json_schema_extra={"pattern": UPN_PATTERN}),
    AfterValidator(_upn),
]
Users = Annotated[
    list[Upn],
    Field(
        min_length=1,
        max_length=MAX_USERS_PER_REQUEST,
        description=(
            "User principal names of this tenant's directory users; matched exactly, or "
            "ignoring case when that names one user. Unknown users (including another "
            "tenant's) and users named twice refuse the whole request."
        ),
    ),
]


class BulkLicenses(Schema):
    model_config = ConfigDict(extra="forbid")

    subscription_id: Id
    users: Users


class BulkReplace(Schema):
    model_config = ConfigDict(extra="forbid")

    source_id: Id
    target_id: Id
    users: Users


class BulkResult(Schema):
    operation: Literal["assign", "unassign"]
    subscription_id: int = Field(ge=1)
    changed: int = Field(ge=0)


class ReplaceResult(Schema):
    operation: Literal["replace"]
    source_id: int = Field(ge=1)
    target_id: int = Field(ge=1)
    changed: int = Field(ge=0)


class LicenseHolder(Schema):
    user_id: int = Field(ge=1)
    upn: str
    display_name: str
    assigned_at: DateTimeText


class LicensePage(Schema):
    subscription_id: int = Field(ge=1)
    items: list[LicenseHolder]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


@router.get(
    "/licenses",
    auth=TokenAuth(Cap.VIEW),
    url_name="licenses",
    summary="List who holds a subscription's licenses",
    **api_responses({200: LicensePage}, 400, 403, 423),
)
def license_list(
    request,
    tenant_slug: TenantSlug,
    subscription_id: Annotated[
        QueryInt, Query(..., ge=1, le=MAX_ID, description="The subscription.")
    ],
    after: Annotated[
        QueryInt, Query(None, ge=1, le=MAX_ID, description="next_after of the previous page.")
    ],
    limit: Annotated[
        QueryInt,
        Query(HOLDERS_PAGE_DEFAULT, ge=1, le=HOLDERS_PAGE_MAX, description="Page size."),
    ],
):
    """One page of holders, ordered by user id."""
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


def _subscriptions_of_tenant(request, *ids: int) -> None:
    """404 `not_found` for a subscription id of the body that is not the tenant's, checked
    before the users are: another tenant's subscription answers exactly as one that does not
    exist, whatever else the body holds, as it does in a path."""
    for pk in ids:
        subscription_get(tenant=request.tenant, pk=pk)


def _applied(service, **kwargs) -> int:
    try:
        return service(**kwargs)
    except DomainError as error:
        # The service's own check under its row locks (a subscription deleted meanwhile).
        if error.code == "not_found":
            raise Http404 from error
        raise


def _single_subscription_change(request, body: BulkLicenses, *, operation: str, service):
    """assign and unassign take the same body: one subscription and the users' UPNs."""
    _subscriptions_of_tenant(request, body.subscription_id)
    user_ids = directory_user_ids_for_upns(tenant=request.tenant, upns=body.users)
    changed = _applied(
        service,
        tenant=request.tenant,
        actor=request.access.user,
        subscription_id=body.subscription_id,
        user_ids=user_ids,
        max_users=None,
    )
    return {"operation": operation, "subscription_id": body.subscription_id, "changed": changed}


BULK_ERRORS = (400, 403, 413, 422, 423)


@router.post(
    "/licenses/assign",
    auth=TokenAuth(Cap.LICENSES),
    url_name="licenses_assign",
    summary="Assign licenses to many users",
    **api_responses({200: BulkResult}, *BULK_ERRORS),
)
def license_assign(request, tenant_slug: TenantSlug, body: BulkLicenses):
    """Gives each named user a license of the subscription. All or nothing."""
    return _single_subscription_change(
        request, body, operation="assign", service=services.license_assign
    )


@router.post(
    "/licenses/unassign",
    auth=TokenAuth(Cap.LICENSES),
    url_name="licenses_unassign",
    summary="Unassign licenses from many users",
    **api_responses({200: BulkResult}, *BULK_ERRORS),
)
def license_unassign(request, tenant_slug: TenantSlug, body: BulkLicenses):
    """Takes the subscription's license away from each named user. All or nothing."""
    return _single_subscription_change(
        request, body, operation="unassign", service=services.license_unassign
    )


@router.post(
    "/licenses/replace",
    auth=TokenAuth(Cap.LICENSES),
    url_name="licenses_replace",
    summary="Move many users from one subscription to another",
    **api_responses({200: ReplaceResult}, *BULK_ERRORS),
)
def license_replace(request, tenant_slug: TenantSlug, body: BulkReplace):
    """Re-points each named user's license from the source to the target subscription; at
    every instant each user holds exactly one of the two. All or nothing."""
    _subscriptions_of_tenant(request, body.source_id, body.target_id)
    user_ids = directory_user_ids_for_upns(tenant=request.tenant, upns=body.users)
    changed = _applied(
        services.license_replace,
        tenant=request.tenant,
        actor=request.access.user,
        source_id=body.source_id,
        target_id=body.target_id,
        user_ids=user_ids,
        max_users=None,
    )
    return {
        "operation": "replace",
        "source_id": body.source_id,
        "target_id": body.target_id,
        "changed": changed,
    }
