"""API tokens are created (name, expiry, scopes) and revoked by the admin in the portal; the list
shows each token's scopes, expiry and last use; revoking works even while an upgrade locks the
tenant."""

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from portal import clock
from portal.api.services import api_token_create
from portal.errors import AdminLocked
from portal.models import ApiToken, AuditEvent, Role
from portal.services import admin_lock_acquire

from ..factories import MembershipFactory, TenantFactory

pytestmark = pytest.mark.django_db

TOKEN_VALUE = re.compile(r'<input id="token-value" readonly size="60" value="([^"]+)"')


def _page(tenant) -> str:
    return reverse("api_tokens", args=[tenant.slug])


def _create(client, tenant, name="CI", days=30, scopes=()):
    response = client.post(
        _page(tenant), {"name": name, "expires_in_days": days, "scopes": list(scopes)}
    )
    assert response.status_code == 200
    match = TOKEN_VALUE.search(response.content.decode())
    return response, match.group(1) if match else None


def _api_get(raw, tenant, path="subscriptions"):
    return Client(headers={"Authorization": f"Bearer {raw}"}).get(
        f"/api/v1/tenants/{tenant.slug}/{path}"
    )


class _Checkboxes(HTMLParser):
    """The scope checkboxes of the create form: value -> disabled."""

    def __init__(self):
        super().__init__()
        self.boxes = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "checkbox":
            self.boxes[attrs["value"]] = "disabled" in attrs


def _scope_boxes(client, tenant) -> dict:
    parser = _Checkboxes()
    parser.feed(client.get(_page(tenant)).content.decode())
    return parser.boxes


def _lock(tenant):
    return admin_lock_acquire(
        tenant=tenant, holder=tenant, reason="Upgrade", status_url="/t/x/upgrades/1/"
    )


# --- Creating ----------------------------------------------------------------------------------


def test_an_admin_creates_a_token_that_is_shown_once_and_works(admin_for, tenant):
    client, user = admin_for(tenant, Role.LICENSE_ADMIN)

    response, raw = _create(client, tenant, scopes=["licenses"])

    assert raw and raw.startswith("pt_")
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(membership__user=user)
    assert token.name == "CI" and token.membership.tenant == tenant
    assert raw not in client.get(_page(tenant)).content.decode()
    assert _api_get(raw, tenant).status_code == 200
    assert AuditEvent.objects.filter(action="api_token.create", actor=user).exists()


def test_the_token_gets_the_scopes_and_expiry_chosen_on_the_page(admin_for, tenant):
    client, user = admin_for(tenant, Role.GLOBAL_ADMIN)
    clock.clock_advance(delta=dt.timedelta(days=3))  # the product's clock, not the wall's
    before = clock.now()

    _create(client, tenant, days=7, scopes=["billing"])

    token = ApiToken.objects.get(membership__user=user)
    assert token.scopes == ["read", "billing"]
    assert before + dt.timedelta(days=7) <= token.expires_at <= clock.now() + dt.timedelta(days=7)


def test_the_token_value_selects_itself_on_focus_without_an_inline_handler(admin_for, tenant):
    client, _user = admin_for(tenant)

    response, _raw = _create(client, tenant)

    page = response.content.decode()
    assert re.search(r'<input id="token-value"[^>]* data-select-on-focus>', page)
    assert "onfocus" not in page and "<script>" not in page and " style=" not in page


def test_a_token_without_a_name_is_refused(admin_for, tenant):
    client, _user = admin_for(tenant)

    response, raw = _create(client, tenant, name="  ")

    assert raw is None
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("role", "offered"),
    [
        (Role.GLOBAL_ADMIN, {"read", "licenses", "billing"}),
        (Role.BILLING_ADMIN, {"read", "billing"}),
        (Role.LICENSE_ADMIN, {"read", "licenses"}),
        (Role.USER_ADMIN, {"read", "licenses"}),
        (Role.GLOBAL_READER, {"read"}),
    ],
)
def test_the_page_offers_only_the_scopes_the_role_allows_with_read_always_on(
    admin_for, tenant, role, offered
):
    client, _user = admin_for(tenant, role)

    boxes = _scope_boxes(client, tenant)

    assert set(boxes) == offered
    assert boxes["read"] is True  # checked and disabled: every token can read
    assert not any(disabled for scope, disabled in boxes.items() if scope != "read")


def test_a_reader_creates_a_read_token(admin_for, tenant):
    client, user = admin_for(tenant, Role.GLOBAL_READER)

    _response, raw = _create(client, tenant)

    assert ApiToken.objects.get(membership__user=user).scopes == ["read"]
    assert _api_get(raw, tenant).status_code == 200


def test_a_reader_posting_a_wider_scope_gets_no_token(admin_for, tenant):
    client, _user = admin_for(tenant, Role.GLOBAL_READER)

    response, raw = _create(client, tenant, scopes=["licenses"])

    assert raw is None
    assert not ApiToken.objects.exists()
    assert "licenses" in response.content.decode()  # the refused choice is named


def test_the_page_offers_no_lifetime_beyond_the_maximum(admin_for, tenant, settings):
    settings.PORTAL_API_TOKEN_MAX_DAYS = 60
    client, _user = admin_for(tenant)

    page = client.get(_page(tenant)).content.decode()
    _response, raw = _create(client, tenant, days=90)

    offered = set(re.findall(r'<option value="(\d+)"', page))
    assert offered == {"7", "30", "60"}
    assert raw is None
    assert not ApiToken.objects.exists()


# --- The list ----------------------------------------------------------------------------------


def _row(page: str, token: ApiToken) -> str:
    start = page.index(f"<code>{token.prefix}…</code>")
    return page[start : page.index("</tr>", start)]


def test_the_list_shows_scopes_expiry_and_last_use(admin_for, tenant):
    client, user = admin_for(tenant, Role.LICENSE_ADMIN)
    _create(client, tenant, name="unused")
    _response, raw = _create(client, tenant, name="used", scopes=["licenses"])
    used = ApiToken.objects.get(name="used")
    unused = ApiToken.objects.get(name="unused")

    _api_get(raw, tenant)
    page = client.get(_page(tenant)).content.decode()

    assert "Read, Licenses" in _row(page, used)
    assert "Never" not in _row(page, used)
    assert "Never" in _row(page, unused)
    used.refresh_from_db()
    assert used.last_used_at is not None


def test_an_expired_token_is_listed_as_expired(admin_for, tenant):
    client, _user = admin_for(tenant)
    _create(client, tenant, days=7)
    token = ApiToken.objects.get()
    assert "Expired" not in _row(client.get(_page(tenant)).content.decode(), token)

    clock.clock_advance(delta=dt.timedelta(days=8))

    assert "Expired" in _row(client.get(_page(tenant)).content.decode(), token)


def test_an_admin_has_at_most_ten_active_tokens_and_expired_ones_do_not_count(tenant):
    from portal.api.services import MAX_ACTIVE_TOKENS
    from portal.errors import DomainError

    membership = MembershipFactory(tenant=tenant, role=Role.GLOBAL_ADMIN)
    for n in range(MAX_ACTIVE_TOKENS):
        api_token_create(membership=membership, name=f"t{n}", expires_in_days=7)
    with pytest.raises(DomainError) as refused:
        api_token_create(membership=membership, name="one too many")
    assert refused.value.code == "too_many_tokens"

    clock.clock_advance(delta=dt.timedelta(days=8))

    api_token_create(membership=membership, name="after they expired")
    assert ApiToken.objects.count() == MAX_ACTIVE_TOKENS + 1


# --- Revoking ----------------------------------------------------------------------------------


def test_an_admin_revokes_their_token_and_it_stops_working_at_once(admin_for, tenant):
    client, user = admin_for(tenant)
    _response, raw = _create(client, tenant)
    token = ApiToken.objects.get(membership__user=user)
    assert _api_get(raw, tenant).status_code == 200

    response = client.post(reverse("api_token_revoke", args=[tenant.slug, token.pk]))

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == user
    assert _api_get(raw, tenant).status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoke").exists()


def test_an_admin_cannot_revoke_another_admins_token_but_a_global_admin_can(admin_for, tenant):
    owner_client, owner = admin_for(tenant, Role.LICENSE_ADMIN)
    _create(owner_client, tenant)
    token = ApiToken.objects.get(membership__user=owner)
    other_client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    global_client, _ = admin_for(tenant, Role.GLOBAL_ADMIN)
    url = reverse("api_token_revoke", args=[tenant.slug, token.pk])

    assert other_client.post(url).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    assert owner.username not in other_client.get(_page(tenant)).content.decode()

    global_client.post(url)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_support_engineer_cannot_revoke_a_token(support_client, admin_for, tenant):
    owner_client, owner = admin_for(tenant)
    _create(owner_client, tenant)
    token = ApiToken.objects.get(membership__user=owner)

    response = support_client.post(reverse("api_token_revoke", args=[tenant.slug, token.pk]))

    assert response.status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_another_tenants_token_cannot_be_revoked(admin_for, tenant):
    other = TenantFactory()
    owner_client, owner = admin_for(other)
    _create(owner_client, other)
    token = ApiToken.objects.get(membership__user=owner)
    client, _ = admin_for(tenant)

    response = client.post(reverse("api_token_revoke", args=[tenant.slug, token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# --- While an upgrade locks the tenant -----------------------------------------------------------


def test_a_leaked_token_can_be_revoked_while_the_tenant_is_locked(admin_for, tenant):
    client, user = admin_for(tenant)
    _response, raw = _create(client, tenant)
    token = ApiToken.objects.get(membership__user=user)
    _lock(tenant)

    page = client.get(_page(tenant))
    response = client.post(reverse("api_token_revoke", args=[tenant.slug, token.pk]))

    assert page.status_code == 200  # the page stays open to revoke from
    assert reverse("api_token_revoke", args=[tenant.slug, token.pk]) in page.content.decode()
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert _api_get(raw, tenant).json()["code"] == "invalid_token"


def test_no_token_can_be_created_while_the_tenant_is_locked(admin_for, tenant):
    client, _user = admin_for(tenant)
    lock = _lock(tenant)

    page = client.get(_page(tenant)).content.decode()
    response, raw = _create(client, tenant)

    assert 'id="token-create"' not in page
    assert lock.message in page
    assert raw is None
    assert not ApiToken.objects.exists()


def test_the_service_still_refuses_a_new_token_while_locked(tenant):
    membership = MembershipFactory(tenant=tenant, role=Role.GLOBAL_ADMIN)
    _lock(tenant)

    with pytest.raises(AdminLocked):
        api_token_create(membership=membership, name="during the lock", scopes=["read"])


def test_the_nav_links_to_the_token_page(admin_for, tenant):
    client, _ = admin_for(tenant)

    page = client.get(reverse("tenant_home", args=[tenant.slug])).content.decode()

    assert _page(tenant) in page
