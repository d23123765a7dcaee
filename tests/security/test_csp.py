"""The Content-Security-Policy: every answer of the portal (pages, htmx fragments, error pages,
the sign-in page, the Django admin, the JSON API) carries the enforced policy, which allows
scripts and styles from the portal itself only; and no page needs more, because no rendered page
holds an inline script, <style> block, style attribute, on* handler or javascript: URL.

The pages come from the URLconf (tests/test_reads_write_nothing.py), crawled as a Global admin,
a Billing admin, a Global reader and a support engineer, so a new page is covered without
editing this test."""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from portal.models import Role
from tests.api.conftest import api_for  # noqa: F401 (a fixture)
from tests.factories import MembershipFactory, UserFactory
from tests.processes import ROOT
from tests.test_reads_write_nothing import _client, _urls

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"
# Sources that would let an injected script or style run: none may appear in any directive.
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*", "data:")


def directives(header: str) -> dict[str, list[str]]:
    """A policy header's directives and their sources (django-csp writes them in no set order)."""
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def policy_of(response) -> dict[str, list[str]]:
    """The enforced policy's directives, parsed from the header."""
    assert HEADER in response, f"{response.request['PATH_INFO']}: no {HEADER} header"
    return directives(response[HEADER])


def policy_problems(response) -> list[str]:
    """What is wrong with the answer's policy; empty when it is the strict one."""
    if HEADER not in response:
        return ["no Content-Security-Policy header"]
    policy = policy_of(response)
    problems = []
    for directive in ("script-src", "style-src", "default-src"):
        if policy.get(directive) != ["'self'"]:
            problems.append(f"{directive} is {policy.get(directive)}, not 'self' alone")
    problems += [
        f"{name} allows {source}"
        for name, sources in policy.items()
        if name in ("script-src", "style-src", "default-src")
        for source in sources
        if source in UNSAFE
    ]
    for directive in ("object-src", "base-uri", "frame-ancestors"):
        if policy.get(directive) != ["'none'"]:
            problems.append(f"{directive} is {policy.get(directive)}, not 'none'")
    return problems


class InlineCodeFinder(HTMLParser):
    """Collects whatever a strict policy (no 'unsafe-inline', no 'unsafe-eval') would block, or
    what would load from another site: inline scripts, <style> blocks, style attributes, on*
    handlers, javascript: URLs, htmx attributes that need eval, and off-site assets."""

    URL_ATTRIBUTES = ("href", "src", "action", "formaction")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            if not attributes.get("src"):
                self.found.append("<script> without src")
            self._in_script = True
        if tag == "style":
            self.found.append("<style> block")
        for name, value in attrs:
            value = (value or "").strip()
            bare = name.removeprefix("data-")
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…> handler")
            elif name == "style":
                self.found.append(f"<{tag} style=…> attribute")
            elif bare.startswith("hx-on") or bare == "hx-vars":
                self.found.append(f"<{tag} {name}=…> (htmx would eval it)")
            elif bare == "hx-vals" and value.lower().startswith(("js:", "javascript:")):
                self.found.append(f"<{tag} {name}=js:…> (htmx would eval it)")
            elif bare == "hx-trigger" and "[" in value:
                self.found.append(f"<{tag} {name}> with an event filter (htmx would eval it)")
            elif name in self.URL_ATTRIBUTES and value.lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")
            elif self._off_site(tag, name, value):
                self.found.append(f"<{tag} {name}={value}> loads from another site")

    @staticmethod
    def _off_site(tag, name, value) -> bool:
        # Assets ship with the portal (no CDN): the policy would block them anyway.
        loads = name in ("href", "src") and tag in ("script", "link", "img")
        return loads and value.startswith(("//", "http:", "https:"))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in_script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append("<script> with inline code")


def inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def _user(world, who):
    t = world["t"]
    if who == "support":
        return UserFactory(is_staff=True)
    role = {
        "global_admin": Role.GLOBAL_ADMIN,
        "billing_admin": Role.BILLING_ADMIN,
        "reader": Role.GLOBAL_READER,
    }[who]
    user = UserFactory()
    MembershipFactory(user=user, tenant=t.tenant, role=role)
    return user


def _crawl(world, who) -> dict[str, object]:
    """Every page of the URLconf, as a full page and as an htmx request, for one kind of user;
    the second tenant's stale cart is opened by its own admin (its checkout page)."""
    t, second = world["t"], world["second"]
    client = _client(_user(world, who))
    urls = _urls(world["ids"])
    responses = {}
    for url in urls:
        responses[url] = client.get(url)
        responses[url + " (htmx)"] = client.get(url, headers={"HX-Request": "true"})
    second_client = _client(second.admin)
    for url in urls:
        if "/carts/" in url:
            own = url.replace(t.tenant.slug, second.tenant.slug)
            responses[own + " (second tenant)"] = second_client.get(own)
    return responses


WHO = ["global_admin", "billing_admin", "reader", "support"]


@pytest.mark.parametrize("who", WHO)
def test_every_page_answers_with_the_strict_policy(world, who):
    responses = _crawl(world, who)

    problems = {url: policy_problems(r) for url, r in responses.items() if policy_problems(r)}

    assert not problems, problems
    # The crawl met real pages, not only refusals and redirects.
    assert sum(r.status_code == 200 for r in responses.values()) >= 10


@pytest.mark.parametrize("who", WHO)
def test_no_page_holds_inline_script_style_or_handler(world, who):
    responses = _crawl(world, who)
    html = {
        url: r.content.decode()
        for url, r in responses.items()
        if r["Content-Type"].startswith("text/html")
    }

    found = {url: inline_code(text) for url, text in html.items() if inline_code(text)}

    assert not found, found
    assert sum("<html" in text for text in html.values()) >= 10  # whole pages were parsed


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<button onclick="go()">Go</button>',
        '<select onchange="this.form.submit()"></select>',
        '<input onfocus="this.select()">',
        '<div style="width: 40%"></div>',
        "<style>p { color: red }</style>",
        '<a href="javascript:go()">Go</a>',
        '<button hx-on:click="go()">Go</button>',
        '<div hx-trigger="click[ctrlKey]"></div>',
        '<div hx-vals="js:{a: 1}"></div>',
        '<script src="https://cdn.example/htmx.js"></script>',
        '<script src="/static/x.js">alert(1)</script>',
    ],
)
def test_the_html_check_finds_each_kind_of_inline_code(snippet):
    assert inline_code(f"<!doctype html><html><body>{snippet}</body></html>")


def test_the_html_check_passes_markup_the_policy_allows():
    html = (
        '<!doctype html><html><head><link rel="stylesheet" href="/static/portal/portal.css">'
        '<script src="/static/portal/portal.js" defer></script></head><body>'
        '<select data-submit-on-change></select><progress class="progress" max="100" value="4">'
        '</progress><div hx-get="/x" hx-trigger="every 1s" hx-vals=\'{"a": 1}\'></div>'
        '<a href="/t/x/">x</a><input data-select-on-focus></body></html>'
    )
    assert inline_code(html) == []


class DefaultFormData(HTMLParser):
    """The data a browser would post from one form left at its defaults (text fields filled
    with a name): so a test can submit a form without knowing its fields."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "option":
            # The selected option, or the first one when none is.
            if self._select and ("selected" in a or self._select not in self.data):
                self.data[self._select] = [a.get("value", "")]
            return
        if "name" not in a or "disabled" in a:
            return
        kind = a.get("type", "text")
        if tag == "select":
            self._select = a["name"]
        elif tag == "input" and kind in ("checkbox", "radio"):
            if "checked" in a:
                self.data.setdefault(a["name"], []).append(a.get("value", "on"))
        elif tag == "input" and kind != "submit":
            self.data.setdefault(a["name"], []).append(a.get("value") or "csp-check")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "select":
            self._select = None


def test_the_page_showing_a_new_api_token_has_no_inline_code(world):
    """The token is shown once, in a field that selects itself on focus (static JS now)."""
    client = _client(_user(world, "global_admin"))
    url = reverse("api_tokens", args=[world["t"].tenant.slug])
    form = DefaultFormData("token-create")
    form.feed(client.get(url).content.decode())

    response = client.post(url, form.data)

    html = response.content.decode()
    assert 'id="new-token"' in html, form.data
    assert "data-select-on-focus" in html
    assert policy_problems(response) == []
    assert inline_code(html) == []


def test_the_sign_in_page_answers_with_the_strict_policy_and_no_inline_code():
    response = Client().get(reverse("login"))

    assert response.status_code == 200
    assert policy_problems(response) == []
    assert inline_code(response.content.decode()) == []


def test_a_missing_page_answers_404_with_the_strict_policy_and_no_inline_code(world):
    for client in (Client(), _client(_user(world, "global_admin"))):
        response = client.get("/no/such/page/")

        assert response.status_code == 404
        assert policy_problems(response) == []
        assert inline_code(response.content.decode()) == []


def test_a_refused_page_answers_403_with_the_strict_policy_and_no_inline_code(world):
    t = world["t"]
    client = _client(_user(world, "reader"))

    response = client.get(reverse("subscription_cancel", args=[t.tenant.slug, t.e4.pk]))

    assert response.status_code == 403
    assert policy_problems(response) == []
    assert inline_code(response.content.decode()) == []


def test_a_forged_post_answers_403_with_the_strict_policy_and_no_inline_code():
    # Django's own CSRF failure page has an inline <style>: the portal's 403_csrf.html replaces it.
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x"})

    assert response.status_code == 403
    assert policy_problems(response) == []
    assert inline_code(response.content.decode()) == []


def test_the_django_admin_pages_of_a_support_engineer_answer_with_the_policy(world):
    """The Django admin (support engineers read the portal's models there): its index, every
    registered model's list and the first object of each, whether it answers the page or a
    refusal (django-axes' models need permissions support engineers do not have)."""
    client = _client(_user(world, "support"))
    urls = [reverse("admin:index"), reverse("admin:login")]
    for model in admin.site._registry:
        meta = model._meta
        name = f"admin:{meta.app_label}_{meta.model_name}"
        urls.append(reverse(f"{name}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse(f"{name}_change", args=[first.pk]))
    responses = {url: client.get(url, follow=True) for url in urls}

    assert {r.status_code for r in responses.values()} <= {200, 403}
    assert sum(r.status_code == 200 for r in responses.values()) >= 10
    assert {url: policy_problems(r) for url, r in responses.items() if policy_problems(r)} == {}
    found = {url: inline_code(r.content.decode()) for url, r in responses.items()}
    assert {url: f for url, f in found.items() if f} == {}


def test_the_api_json_answers_carry_the_policy(world, api_for):  # noqa: F811 (the fixture)
    t = world["t"]
    api = api_for(t.tenant)
    ids = world["ids"]
    responses = {
        "openapi": Client().get(reverse("api_openapi")),
        "no token": Client().get(api.url("subscriptions")),
        "unknown path": Client().get("/api/v1/no-such-thing"),
    }
    for path in (
        "subscriptions",
        f"subscriptions/{ids['subscription_id']}",
        f"subscriptions/{ids['subscription_id']}/eligibility",
        "upgrades",
        f"upgrades/{ids['run_id']}",
    ):
        responses[path] = api.get(path)
    responses["licenses"] = api.get("licenses", subscription_id=ids["subscription_id"])

    assert {name: r["Content-Type"] for name, r in responses.items()} == {
        name: "application/json" for name in responses
    }
    answered = {name for name, r in responses.items() if r.status_code == 200}
    assert answered >= {"openapi", "subscriptions", "licenses", "upgrades"}
    assert {name: policy_problems(r) for name, r in responses.items() if policy_problems(r)} == {}


def test_htmx_is_configured_for_the_policy():
    """htmx would otherwise inject a <style> element and eval hx-on and event filters."""
    html = Client().get(reverse("login")).content.decode()

    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)

    assert match, "no htmx-config meta"
    config = json.loads(match.group(1))
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False


def test_the_other_security_headers_are_on_every_answer(world):
    client = _client(_user(world, "global_admin"))
    urls = [reverse("login"), reverse("tenant_home", args=[world["t"].tenant.slug]), "/nope/"]

    for url in urls:
        response = client.get(url)
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url


def test_the_policy_is_enforced_not_only_reported(world):
    response = Client().get(reverse("login"))

    assert HEADER in response
    assert "Content-Security-Policy-Report-Only" not in response


SIGN_IN_PAGE_HEADER = """
import django
django.setup()
from django.test import Client, override_settings
# Plain static storage: production's manifest needs collectstatic, which says nothing of the policy.
plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
with override_settings(STORAGES={"default": plain, "staticfiles": plain}):
    response = Client().get("/accounts/login/", secure=True)
print(response.status_code)
print(response.get("Content-Security-Policy", "none"))
"""


@pytest.mark.parametrize(
    ("settings_module", "extra_env"),
    [
        ("config.settings.local", {"DJANGO_DEBUG": "true"}),
        ("config.settings.local", {"DJANGO_DEBUG": "false"}),
        (
            "config.settings.production",
            {
                "DJANGO_SECRET_KEY": "x" * 60 + "-a-long-random-production-key",
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "PORTAL_TRUSTED_PROXY_COUNT": "0",
            },
        ),
    ],
)
def test_every_settings_module_enforces_the_same_policy(settings_module, extra_env, tmp_path):
    """Local (with DEBUG on or off) and production send the policy the tests run under."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        extra_env,
        DJANGO_SETTINGS_MODULE=settings_module,
        DJANGO_ALLOWED_HOSTS="testserver",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    if settings_module.endswith("local"):
        for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            env.pop(name, None)

    result = subprocess.run(
        [sys.executable, "-c", SIGN_IN_PAGE_HEADER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    status, header = result.stdout.strip().splitlines()[-2:]
    assert status == "200"
    assert header != "none"
    assert directives(header) == policy_of(Client().get(reverse("login")))
