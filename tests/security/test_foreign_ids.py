"""Another tenant's objects do not exist here. Signed in as one tenant's Global admin, every URL
of the site is requested with each object id of a second tenant in its place, in the path, the
query string and the form body, by GET and by POST, with and without htmx, past a real CSRF
check; and every operation of the API with a Global admin's token of the first tenant, with the
second tenant's ids in the path, the query and the JSON body. Each answers 404, exactly as the
same request naming an id that nobody has (same status, same template, same body), and no row of
any table changes.

Nothing is listed by hand that the site can say itself: the URLs come from the URLconf, the
operations and their parameters from the OpenAPI document, and the form fields that carry ids
from the forms and links of the first tenant's own pages (a field whose value is one of that
tenant's ids). A new page, operation or field that names an object is covered without editing
this test, and one the test cannot fill fails it.

Two kinds of parameter name something other than an object, and answer a foreign value exactly
as an unknown one rather than with 404: a paging cursor (a position in a list: an unknown one
shows the first page), and a user principal name in an API body (a name the directory does not
know: 422 `unknown_users` naming it, which an integrator needs to fix a list of thousands)."""

import datetime as dt
import html
import re
import uuid
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import Resolver404, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from billing.models import Subscription
from billing.payments import invoice_create
from billing.pricing import Line
from config.api import api
from licensing.models import DirectoryUser
from portal.models import ApiToken, ServiceIncident, Tenant
from portal.services import notification_create
from tests.api import conftest as api_conftest
from tests.factories import SubscriptionFactory, product, users_with_licenses
from tests.security.hostile import database_snapshot
from tests.test_reads_write_nothing import SKIPPED_PREFIXES, _patterns
from tests.upgrades.conftest import access_of, checkout, make_e4_tenant, place
from upgrades import engine
from upgrades.help import support_request_create

pytestmark = pytest.mark.django_db

# A new admin with a real API token: the API tests' own fixture, shared.
api_for = api_conftest.api_for

# Every table's ids are drawn from a range of its own, far above any other number a page shows
# (quantities, prices, counts): a value on a page that is one of the tenant's ids is an id, and
# two kinds of object never share one.
ID_BASE = 100_000_000
ID_STRIDE = 1_000_000
# Above every table's range (and below 2**31, so that it fits every id column): nobody's id.
MISSING_ID = 2_000_000_000
MISSING_SLUG = "no-such-tenant"
MISSING_UPN = "nobody-at-all@missing.test"

# Path parameters, by their name in the URLconf and the API, and the object of each tenant that
# fills them (a key of the world's ids).
PATH_OBJECTS = {
    "tenant_slug": "tenant_slug",
    "subscription_id": "subscription_id",
    "order_id": "order_id",
    "invoice_id": "invoice_id",
    "cart_id": "cart_id",
    "run_id": "run_id",
    "notification_id": "notification_id",
    "token_id": "token_id",
    "incident_id": "incident_id",
    "support_request_id": "support_request_id",
}
# Paging cursors of the pages: a position, not an object (see the module's docstring).
PAGE_CURSORS = {"users": ("after", "before")}

# The API's parameters and body fields, each classified: an id (and the tenant's object that
# fills it), a cursor, a user principal name, or a plain value (with the value to send when the
# operation requires it). A parameter the test does not know fails it.
API_IDS = {
    "tenant_slug": "tenant_slug",
    "subscription_id": "subscription_id",
    "source_id": "subscription_id",
    "target_id": "upgraded_id",
    "run_id": "run_id",
}
API_CURSORS = {"after"}
API_NAMES = {"users"}
API_PLAIN = {
    "status": None,
    "limit": None,
    "state": None,
    "target": "O365_E5",
    "billing_frequency": None,
    "quantity": None,
    "payment_method": None,
    "po_number": None,
    "start_at": None,
    "reason": None,
    "Idempotency-Key": None,
}


# --- The two tenants -------------------------------------------------------------------------


def _ids_in_ranges_of_their_own():
    """Moves every sequence of the database to its own range (see ID_BASE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, sequencename FROM pg_sequences "
            "WHERE schemaname = current_schema() ORDER BY sequencename"
        )
        for i, (schema, name) in enumerate(cursor.fetchall()):
            sequence = f'"{schema}"."{name}"'
            # Never backwards: rows committed by an earlier test keep their ids.
            cursor.execute(
                "SELECT setval(%s::regclass, GREATEST(%s, "
                "COALESCE(pg_sequence_last_value(%s::regclass), 0) + 1), false)",
                [sequence, ID_BASE + i * ID_STRIDE, sequence],
            )


def _tenant_with_one_of_everything(api_for) -> SimpleNamespace:
    """A tenant with a finished upgrade (order, invoices, new subscription), add-ons, directory
    users holding licenses, an open upgrade cart at checkout, an unpaid invoice, a notification,
    a service incident and an API token."""
    t = make_e4_tenant(users=6, quantity=8, addons=[("PHONE_SYSTEM", 4, 3)])
    finished = place(t)
    engine.run_advance(run_id=finished.pk)
    finished.refresh_from_db()
    # A plan of another kind than the upgraded one (a second E4 could not be upgraded).
    second_plan = SubscriptionFactory(
        tenant=t.tenant,
        product=product("O365_E3"),
        quantity=4,
        ready_at=timezone.now() - dt.timedelta(hours=1),
    )
    holders = users_with_licenses(second_plan, 2)
    cart = checkout(
        SimpleNamespace(tenant=t.tenant, e4=second_plan, admin=t.admin), target="M365_E5"
    )
    unpaid = invoice_create(
        tenant=t.tenant,
        lines=[
            Line(
                description="Office 365 E4",
                quantity=1,
                amount=Decimal("22.00"),
                unit_price=Decimal("22.00"),
            )
        ],
    )
    notification = notification_create(tenant=t.tenant, message="Unread")
    incident = ServiceIncident.objects.create(
        tenant=t.tenant, title="Mail delays", opened_at=timezone.now()
    )
    token_client = api_for(t.tenant)
    support_request = support_request_create(
        access=access_of(t), topic="upgrade", message="A question", run=finished
    )
    return SimpleNamespace(
        tenant=t.tenant,
        admin=t.admin,
        upns=[u.upn for u in holders],
        ids={
            "tenant_slug": t.tenant.slug,
            "subscription_id": second_plan.pk,
            "upgraded_id": finished.new_subscription_id,
            "order_id": finished.order_id,
            "invoice_id": unpaid.pk,
            "cart_id": cart.pk,
            "run_id": finished.pk,
            "notification_id": notification.pk,
            "token_id": ApiToken.objects.get(membership__user=token_client.user).pk,
            "incident_id": incident.pk,
            "support_request_id": support_request.pk,
        },
    )


def _rows_of(tenant) -> dict[str, set[int]]:
    """The ids of every row the tenant owns, by model."""
    rows = {}
    for model in apps.get_models():
        fields = {f.name: f for f in model._meta.get_fields()}
        field = fields.get("tenant")
        if field is not None and field.is_relation and field.related_model is Tenant:
            rows[model._meta.label] = set(
                model.objects.filter(tenant=tenant).values_list("pk", flat=True)
            )
    rows[ApiToken._meta.label] = set(
        ApiToken.objects.filter(membership__tenant=tenant).values_list("pk", flat=True)
    )
    return rows


@pytest.fixture
def tenants(api_for):
    """Ours (A), whose Global admin asks, and theirs (B), whose ids are asked for."""
    _ids_in_ranges_of_their_own()
    ours = _tenant_with_one_of_everything(api_for)
    theirs = _tenant_with_one_of_everything(api_for)
    assert not set(ours.ids.values()) & set(theirs.ids.values())
    # Which of our ids is what: {"<id>": model label}.
    ours.kinds = {str(pk): label for label, pks in _rows_of(ours.tenant).items() for pk in pks}
    theirs.rows = _rows_of(theirs.tenant)
    return SimpleNamespace(ours=ours, theirs=theirs)


def _theirs_of_kind(theirs, label: str) -> int:
    """Their object of the same kind as one of ours: the world's own when it names one."""
    model = apps.get_model(label)
    for pk in theirs.ids.values():
        if isinstance(pk, int) and model.objects.filter(pk=pk).exists():
            return pk
    assert theirs.rows.get(label), f"the second tenant has no {label} to substitute"
    return min(theirs.rows[label])


# --- Comparing answers -----------------------------------------------------------------------

CSRF_VALUES = re.compile(
    r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]*"|nonce="[^"]*"'
)


def _page_answer(response, url: str) -> tuple:
    """What a page answers, without what differs between any two requests (the CSRF token)
    or is the request's own address (echoed back in the language form)."""
    body = response.content.decode(errors="replace")
    for echoed in (url, html.escape(url)):
        body = body.replace(echoed, "<URL>")
    return (
        response.status_code,
        [t.name for t in response.templates],
        CSRF_VALUES.sub(r"\1", body),
    )


# --- Pages -----------------------------------------------------------------------------------


class _PageParts(HTMLParser):
    """Every form of a page, as the submissions a browser makes of it (one per named submit
    button), and every link with a query string."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[dict] = []
        self.links: set[str] = set()
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "?" in (attrs.get("href") or ""):
            self.links.add(attrs["href"])
        if tag == "form":
            self._form = {
                "action": attrs.get("action") or self.page_url,
                "method": (attrs.get("method") or "get").lower(),
                "fields": [],
                "radios": {},
                "buttons": [],
            }
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name")
        kind = (attrs.get("type") or "text").lower()
        if tag == "input" and name:
            if kind == "submit":
                form["buttons"].append((name, attrs.get("value", "")))
            elif kind == "radio":
                if name not in form["radios"] or "checked" in attrs:
                    form["radios"][name] = attrs.get("value", "on")
            elif kind != "button":
                form["fields"].append(
                    (name, attrs.get("value", "on" if kind == "checkbox" else ""))
                )
        elif tag == "button" and name and kind == "submit":
            form["buttons"].append((name, attrs.get("value", "")))
        elif tag == "select" and name:
            self._select = {"name": name, "value": None}
        elif tag == "option" and self._select is not None:
            if self._select["value"] is None or "selected" in attrs:
                self._select["value"] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            if self._select["value"] is not None and self._form is not None:
                self._form["fields"].append((self._select["name"], self._select["value"]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                self._form["fields"].append(tuple(self._textarea))
            self._textarea = None
        elif tag == "form":
            self._form = None

    def submissions(self):
        """(action, method, {name: [values]}) for each way of sending each form."""
        for form in self.forms:
            data: dict[str, list[str]] = {}
            for name, value in [*form["fields"], *form["radios"].items()]:
                if name != "csrfmiddlewaretoken":
                    data.setdefault(name, []).append(value)
            for button in form["buttons"] or [None]:
                sent = {name: list(values) for name, values in data.items()}
                if button is not None:
                    sent.setdefault(button[0], []).append(button[1])
                yield form["action"], form["method"], sent


def _signed_in(tenant) -> tuple[Client, str]:
    """Our Global admin, with Django's real CSRF check, and the token a page gave them."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant.admin)
    assert client.get(reverse("tenant_home", args=[tenant.tenant.slug])).status_code == 200
    return client, client.cookies[settings.CSRF_COOKIE_NAME].value


def _unnamed_routes(resolver=None, prefix=""):
    """Routes the crawl could not build (it reverses names): there must be none."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _unnamed_routes(pattern, route)
        elif not pattern.name and not route.startswith(SKIPPED_PREFIXES):
            yield route


def _url_name(url: str) -> str | None:
    try:
        return resolve(urlsplit(url).path).url_name
    except Resolver404:
        return None


def _our_pages(client, ours):
    """Our own pages, as our admin sees them: every URL of the site with our ids, then every
    link with a query string they hold (tabs, the add-on purchase of a subscription, checkout's
    sections). Returns the status of each pattern's GET, the submissions of every form by the
    name of the URL it posts to, and the links."""
    assert list(_unnamed_routes()) == []
    statuses, submissions, links = {}, {}, set()
    pages = []
    for route, pattern in _patterns():
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        unknown = [name for name in names if name not in PATH_OBJECTS]
        assert not unknown, f"{route}: no object of the test fills {unknown}"
        url = reverse(pattern.name, kwargs={n: ours.ids[PATH_OBJECTS[n]] for n in names})
        pages.append(url)
    seen = set()
    while pages:
        url = pages.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if "?" not in url:
            statuses[_url_name(url)] = response.status_code
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parts = _PageParts(url)
        parts.feed(response.content.decode())
        for action, method, data in parts.submissions():
            if action.startswith("/t/"):
                submissions.setdefault(_url_name(action), []).append((action, method, data))
        for link in parts.links:
            if link.startswith("/t/") and link not in seen:
                links.add(link)
                pages.append(link)
    return statuses, submissions, links


def _id_fields(data: dict, ours) -> dict[str, str]:
    """The fields of a submission whose values are our ids, with the kind of each."""
    found = {}
    for name, values in data.items():
        kinds = {ours.kinds[v] for v in values if v in ours.kinds}
        assert len(kinds) <= 1, f"{name} carries ids of several kinds: {kinds}"
        if kinds:
            found[name] = kinds.pop()
    return found


class _Crawl:
    """Sends each request twice, naming their object and naming nobody's, and keeps what was
    wrong with either answer."""

    def __init__(self, client, token):
        self.client = client
        self.token = token
        self.problems: list[str] = []

    def send(self, method, url, data=None, *, htmx=False):
        headers = {"X-CSRFToken": self.token}
        if htmx:
            headers["HX-Request"] = "true"
        if method == "get":
            return self.client.get(url, data or {}, headers=headers)
        body = {**(data or {}), "csrfmiddlewaretoken": self.token}
        return self.client.post(url, body, headers=headers)

    def expect(self, expected, method, foreign, missing, data=None, missing_data=None):
        """`foreign` (a URL naming their object) answers one of the `expected` statuses, and
        exactly what `missing` (the same naming nobody's) answers, by plain request and by
        htmx."""
        for htmx in (False, True):
            label = f"{method.upper()}{' htmx' if htmx else ''} {foreign} {data or ''}"
            theirs = self.send(method, foreign, data, htmx=htmx)
            nobodys = self.send(method, missing, missing_data or data, htmx=htmx)
            if theirs.status_code not in expected:
                self.problems.append(f"{label}: {theirs.status_code}, not {sorted(expected)}")
            elif _page_answer(theirs, foreign) != _page_answer(nobodys, missing):
                self.problems.append(f"{label}: answers unlike an id that does not exist")


def _path_variants(names, ours, theirs):
    """(their kwargs, nobody's kwargs) with each parameter in turn, then all of them."""
    own = {n: ours.ids[PATH_OBJECTS[n]] for n in names}
    missing = {n: MISSING_SLUG if n == "tenant_slug" else MISSING_ID for n in names}
    for name in names:
        yield own | {name: theirs.ids[PATH_OBJECTS[name]]}, own | {name: missing[name]}
    if len(names) > 1:
        yield {n: theirs.ids[PATH_OBJECTS[n]] for n in names}, missing


def _flat(data: dict) -> dict:
    return {name: values if len(values) > 1 else values[0] for name, values in data.items()}


def test_every_url_answers_another_tenants_ids_as_ids_that_do_not_exist(tenants):
    ours, theirs = tenants.ours, tenants.theirs
    client, token = _signed_in(ours)
    statuses, submissions, links = _our_pages(client, ours)
    crawl = _Crawl(client, token)
    before = database_snapshot()

    # 1. Path parameters: every pattern that has any, by GET and by POST (the POST sends what
    # the pattern's own form sends for our object, so that a leak would be a real change).
    covered_patterns = 0
    for route, pattern in _patterns():
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if not names:
            continue
        covered_patterns += 1
        if route.startswith("t/"):
            # Our own object is there: a 404 for theirs is about whose it is.
            assert statuses[pattern.name] != 404, f"our own {route} is not found"
        # A URL that takes only POST may refuse a GET before it looks at the id (405 for ours
        # too): that answer says nothing about whose the id is.
        get_expected = {404, 405} if statuses[pattern.name] == 405 else {404}
        bodies = [_flat(data) for _a, m, data in submissions.get(pattern.name, []) if m == "post"]
        for foreign, missing in _path_variants(names, ours, theirs):
            foreign_url = reverse(pattern.name, kwargs=foreign)
            missing_url = reverse(pattern.name, kwargs=missing)
            crawl.expect(get_expected, "get", foreign_url, missing_url)
            for body in bodies or [{}]:
                crawl.expect({404}, "post", foreign_url, missing_url, body)

    # 2. Query parameters that carry one of our ids in a link of our pages.
    query_ids = 0
    for link in sorted(links):
        path, query = urlsplit(link).path, parse_qsl(urlsplit(link).query)
        for i, (name, value) in enumerate(query):
            if value not in ours.kinds:
                continue
            query_ids += 1
            their_id = _theirs_of_kind(theirs, ours.kinds[value])
            foreign = query[:i] + [(name, str(their_id))] + query[i + 1 :]
            missing = query[:i] + [(name, str(MISSING_ID))] + query[i + 1 :]
            foreign_url, missing_url = (
                f"{path}?{urlencode(foreign)}",
                f"{path}?{urlencode(missing)}",
            )
            crawl.expect({404}, "get", foreign_url, missing_url)
            for _action, method, data in submissions.get(_url_name(path), []):
                if method == "post":
                    crawl.expect({404}, "post", foreign_url, missing_url, _flat(data))

    # 3. Form fields that carry our ids: each in turn names theirs (a list keeps ours and adds
    # one of theirs, and is also only theirs); any other id field of the form names nobody's,
    # so that whichever of them the view uses, none of ours is acted on.
    body_ids = set()
    for url_name, forms in submissions.items():
        for action, method, data in forms:
            fields = _id_fields(data, ours)
            for name, kind in fields.items():
                body_ids.add((url_name, name))
                their_id = str(_theirs_of_kind(theirs, kind))
                others = {
                    other: [str(MISSING_ID)]
                    for other in fields
                    if other != name and len(data[other]) == 1
                }
                choices = [[their_id], [str(MISSING_ID)]]
                if len(data[name]) > 1:
                    choices.append(data[name] + [their_id])
                    choices.append(data[name] + [str(MISSING_ID)])
                for i in range(0, len(choices), 2):
                    foreign = _flat(data | others | {name: choices[i]})
                    missing = _flat(data | others | {name: choices[i + 1]})
                    crawl.expect({404}, method, action, action, foreign, missing)

    assert not crawl.problems, "\n".join(crawl.problems)
    assert database_snapshot() == before
    # The crawl met what it is meant to: the patterns with ids (each with every request), the
    # add-on purchase's parent in links and in its form, and the Users page's subscriptions and
    # users.
    assert covered_patterns >= 30
    assert query_ids >= 1
    assert {
        ("purchase_start", "parent"),
        ("users_licenses", "users"),
        ("users_licenses", "assign_to"),
        ("users_licenses", "unassign_from"),
        ("users_licenses", "replace_from"),
        ("users_licenses", "replace_to"),
    } <= body_ids


@pytest.mark.parametrize("cursor", PAGE_CURSORS["users"])
def test_a_paging_cursor_of_another_tenant_shows_what_an_unknown_one_shows(tenants, cursor):
    ours, theirs = tenants.ours, tenants.theirs
    client, _token = _signed_in(ours)
    url = reverse("users", args=[ours.tenant.slug])
    their_user = DirectoryUser.objects.filter(tenant=theirs.tenant).order_by("pk").first()

    for headers in ({}, {"HX-Request": "true"}):
        foreign = client.get(url, {cursor: their_user.pk}, headers=headers)
        missing = client.get(url, {cursor: MISSING_ID}, headers=headers)

        # The page shows the cursor it was given back (to page on from it): the only difference.
        foreign_page = _page_answer(foreign, f"{url}?{cursor}={their_user.pk}")
        missing_page = _page_answer(missing, f"{url}?{cursor}={MISSING_ID}")
        assert foreign.status_code == 200
        assert foreign_page[:2] == missing_page[:2]
        assert foreign_page[2].replace(str(their_user.pk), "<CURSOR>") == missing_page[2].replace(
            str(MISSING_ID), "<CURSOR>"
        )
        assert their_user.upn not in foreign.content.decode()


# --- The API ---------------------------------------------------------------------------------


def _operations():
    """(method, path template, parameters, body properties, required body properties) of every
    operation in the OpenAPI document."""
    document = api.get_openapi_schema()
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body_schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            properties, required = {}, []
            if body_schema is not None:
                body_schema = schemas[body_schema["$ref"].rsplit("/", 1)[1]]
                properties, required = body_schema["properties"], body_schema.get("required", [])
            yield method, path, operation.get("parameters", []), properties, required


def _api_value(name, ours):
    if name in API_IDS:
        return ours.ids[API_IDS[name]]
    if name in API_NAMES:
        return list(ours.upns)
    return API_PLAIN[name]


class _ApiRequest:
    """One operation's request with our values, and the same with one value changed."""

    def __init__(self, method, path, parameters, properties, required, ours):
        kinds = {p["name"]: p["in"] for p in parameters}
        for name in [*kinds, *properties]:
            assert name in {*API_IDS, *API_CURSORS, *API_NAMES, *API_PLAIN}, (
                f"{method.upper()} {path}: the test does not know what {name} carries"
            )
        self.method = method
        self.template = path
        self.path = {n: _api_value(n, ours) for n, where in kinds.items() if where == "path"}
        self.query = {
            n: _api_value(n, ours)
            for p in parameters
            if p["in"] == "query" and p.get("required")
            for n in [p["name"]]
        }
        self.body = {n: _api_value(n, ours) for n in properties if n in required}
        self.query_names = [n for n, where in kinds.items() if where == "query"]
        self.body_names = list(properties)

    def send(self, client, *, path=None, query=None, body=None):
        url = self.template.format(**(self.path | (path or {})))
        if self.method == "get":
            return client.get(url, self.query | (query or {}))
        if query:
            url += "?" + urlencode(self.query | query)
        return client.post(
            url,
            self.body | (body or {}),
            content_type="application/json",
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )


def test_every_api_operation_answers_another_tenants_ids_as_ids_that_do_not_exist(tenants, api_for):
    ours, theirs = tenants.ours, tenants.theirs
    client = api_for(ours.tenant).client
    before = database_snapshot()
    problems, met = [], set()

    def expect_not_found(label, foreign, missing):
        if foreign.status_code != 404 or foreign.json().get("code") != "not_found":
            problems.append(f"{label}: {foreign.status_code} {foreign.content[:200]!r}")
        elif (missing.status_code, missing.json()) != (foreign.status_code, foreign.json()):
            problems.append(f"{label}: answers unlike an id that does not exist")

    for method, path, parameters, properties, required in _operations():
        request = _ApiRequest(method, path, parameters, properties, required, ours)
        label = f"{method.upper()} {path}"
        for name in request.path:
            met.add(("path", name))
            missing = MISSING_SLUG if name == "tenant_slug" else MISSING_ID
            expect_not_found(
                f"{label} path {name}",
                request.send(client, path={name: theirs.ids[API_IDS[name]]}),
                request.send(client, path={name: missing}),
            )
        for where, names in (("query", request.query_names), ("body", request.body_names)):
            for name in names:
                key = where
                met.add((where, name))
                if name in API_IDS:
                    expect_not_found(
                        f"{label} {where} {name}",
                        request.send(client, **{key: {name: theirs.ids[API_IDS[name]]}}),
                        request.send(client, **{key: {name: MISSING_ID}}),
                    )
                elif name in API_CURSORS:
                    their_user = min(theirs.rows[DirectoryUser._meta.label])
                    foreign = request.send(client, **{key: {name: their_user}})
                    missing = request.send(client, **{key: {name: MISSING_ID}})
                    if (foreign.status_code, foreign.json()) != (
                        missing.status_code,
                        missing.json(),
                    ):
                        problems.append(f"{label} {where} {name}: unlike an unknown cursor")
                elif name in API_NAMES:
                    for mixed in (False, True):
                        own = list(ours.upns) if mixed else []
                        foreign = request.send(client, body={name: [*own, theirs.upns[0]]})
                        missing = request.send(client, body={name: [*own, MISSING_UPN]})
                        as_missing = foreign.content.decode().replace(theirs.upns[0], MISSING_UPN)
                        if foreign.status_code < 400 or (
                            (foreign.status_code, as_missing)
                            != (missing.status_code, missing.content.decode())
                        ):
                            problems.append(f"{label} body {name}: unlike an unknown user")

    assert not problems, "\n".join(problems)
    assert database_snapshot() == before
    # Every kind of parameter was met: ids in paths, the query and bodies, the cursor, the users.
    assert {
        ("path", "tenant_slug"),
        ("path", "subscription_id"),
        ("path", "run_id"),
        ("query", "subscription_id"),
        ("query", "after"),
        ("body", "subscription_id"),
        ("body", "source_id"),
        ("body", "target_id"),
        ("body", "users"),
    } <= met


def test_the_three_reported_cases_answer_404_and_change_nothing(tenants, api_for):
    """The issue's examples, by name: Pay now on their invoice, Place order on their cart, and an
    API body naming their subscription."""
    ours, theirs = tenants.ours, tenants.theirs
    client, token = _signed_in(ours)
    api_client = api_for(ours.tenant)
    slug = ours.tenant.slug
    before = database_snapshot()

    pay = client.post(
        reverse("invoice_pay", args=[slug, theirs.ids["invoice_id"]]),
        {"csrfmiddlewaretoken": token},
    )
    place_order = client.post(
        reverse("upgrade_place", args=[slug, theirs.ids["cart_id"]]),
        {"csrfmiddlewaretoken": token, "idempotency_key": "k" * 20},
    )
    assign = api_client.post(
        "licenses/assign", {"subscription_id": theirs.ids["subscription_id"], "users": ours.upns}
    )

    assert (pay.status_code, place_order.status_code) == (404, 404)
    assert "does not exist" not in pay.content.decode()
    assert (assign.status_code, assign.json()["code"]) == (404, "not_found")
    assert database_snapshot() == before
    assert Subscription.objects.filter(tenant=theirs.tenant).exists()
