"""Every page reads in the language chosen, and every catalog uses the glossary's words.

Two checks share this module because they guard the same promise (an admin who picked Svenska
reads Swedish, in one vocabulary):

- The glossary (docs/glossary.md) names one translation per product term. Each catalog message
  whose English contains a term must use the term's translation; the few messages where grammar
  makes that impossible are listed in EXCEPTIONS with the reason.
- Every page, crawled as each demo organisation's global admin and as a support engineer, in
  every offered language, shows no English sentence outside names and codes. The world is the
  demo seed plus the stories that make the portal write texts for later (a completed, a failed,
  a scheduled upgrade, credit checks, renewals, notifications, invoices, a support request), so
  stored texts are read back the way an admin reads them.
"""

import datetime as dt
import io
import re
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from unittest import mock
from urllib.parse import urljoin, urlsplit

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, resolve, reverse

LOCALE = Path(settings.BASE_DIR) / "locale"
GLOSSARY = Path(settings.BASE_DIR) / "docs" / "glossary.md"
# Django language code -> gettext catalog folder.
CATALOGS = {"zh-hans": "zh_Hans", "sv": "sv", "it": "it", "nl": "nl"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}|<[^>]*>")


def _catalog(folder: str):
    with (LOCALE / folder / "LC_MESSAGES" / "django.po").open("rb") as po:
        return [m for m in read_po(po) if m.id]


def _forms(message) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return ids, strings


# --- The glossary ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    english: str
    translation: re.Pattern

    @property
    def in_english(self) -> re.Pattern:
        return re.compile(rf"\b{re.escape(self.english)}(?:s|es)?\b", re.IGNORECASE)


@dataclass
class Section:
    terms: list
    never: list


def glossary() -> dict[str, Section]:
    """docs/glossary.md read as data: per catalog folder, the checked terms (rows whose
    Checked cell holds a `pattern`) and the words a translation never uses."""
    sections: dict[str, Section] = {}
    current = None
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## .*\((\S+)\)\s*", line)
        if heading:
            current = sections.setdefault(CATALOGS[heading.group(1).lower()], Section([], []))
        elif current is not None and line.startswith("Never in a translation:"):
            current.never += [
                re.compile(p.replace("\\|", "|"), re.IGNORECASE)
                for p in re.findall(r"`([^`]+)`", line)
            ]
        elif current is not None and line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            checked = re.fullmatch(r"`(.+)`", cells[2]) if len(cells) > 2 else None
            if checked:
                current.terms.append(Term(cells[0], re.compile(checked.group(1), re.IGNORECASE)))
    return sections


# Messages where the language's grammar leaves the term out; (folder, msgid, English term).
EXCEPTIONS = {
    # "in order" is "in sequence", not a purchase order.
    ("sv", "The first user moved", "order"): "in sequence, not an order",
    ("it", "The first user moved", "order"): "in sequence, not an order",
    ("nl", "The first user moved", "order"): "in sequence, not an order",
    ("zh_Hans", "The first user moved", "order"): "in sequence, not an order",
    # A column heading over the subscription an add-on belongs to: "belongs to" in Chinese.
    ("zh_Hans", "Add-on of", "add-on"): "the heading names the parent subscription (所属订阅)",
}


def test_the_glossary_has_the_same_checked_terms_in_every_language():
    sections = glossary()
    assert set(sections) == set(CATALOGS.values())
    terms = {folder: {t.english for t in s.terms} for folder, s in sections.items()}
    assert terms["sv"] >= {"subscription", "plan", "add-on", "license", "credit check"}
    assert all(found == terms["sv"] for found in terms.values()), terms


def glossary_violations(folder: str) -> list[str]:
    section = glossary()[folder]
    terms = sorted(section.terms, key=lambda t: -len(t.english))
    found = []
    for message in _catalog(folder):
        ids, strings = _forms(message)
        english = PLACEHOLDER.sub(" ", " ".join(ids))
        translations = [PLACEHOLDER.sub(" ", s) for s in strings]
        for term in terms:
            if not term.in_english.search(english):
                continue
            # Longer terms consume their words: "credit check" is not also "credit".
            english = term.in_english.sub(" ", english)
            if (folder, ids[0], term.english) in EXCEPTIONS:
                continue
            for translation in translations:
                if not term.translation.search(translation):
                    found.append(
                        f"{ids[0]!r} has no {term.translation.pattern!r} ({term.english}): "
                        f"{translation!r}"
                    )
        for never in section.never:
            for translation in translations:
                if never.search(translation):
                    found.append(f"{ids[0]!r} uses {never.pattern!r}: {translation!r}")
    return found


@pytest.mark.parametrize("folder", sorted(CATALOGS.values()))
def test_every_translation_uses_the_glossary_terms(folder):
    violations = glossary_violations(folder)
    assert violations == [], f"{len(violations)} messages off the glossary:\n" + "\n".join(
        violations
    )


# --- The pages --------------------------------------------------------------------------------

# English words common in this portal's sentences and never words of Swedish, Italian, Dutch
# (so "in", "is", "of", "was", "no", "so", "due", "last", "later", "global", "plan", "upgrade",
# "support", "tenant", "report", "admin", "status", "open" are left out: each is a word of one
# of them, or the portal's own term in it). Three in a row are an English sentence.
_ENGLISH = """
    the an and or but not nor to for from with without by at on into onto off up out about
    after before until since while when where which who whom whose what why how than then there
    here this that these those it its they them their you your yours we our us he she his her
    be been being are were has have had having does did done will would can could may might
    must should shall need needs needed also again still only just already yet each every any
    all some none other another more most less least many much same such very too if because
    though although unless whether once both either neither can't cannot isn't aren't wasn't
    won't don't doesn't didn't hasn't haven't new old first next please see go back now soon
    today yesterday tomorrow users user license licenses licensed subscription subscriptions
    add-on add-ons addon addons plans upgraded upgrading cart checkout order orders ordered
    invoice invoices invoiced paid pay payment payments charged charge charges credited credits
    refund refunded billing bills failed failure complete completed moved moving move cancelled
    cancel cancelling declined approved pending waiting scheduled renew renewal renewed expired
    disabled deleted active assigned unassigned assign remove removed added add buy bought
    price prices prepaid trial seat seats window maintenance check checks request requests
    answered notification notifications products organization organisations admins reader
    owner account card unpaid days day month months year years week weeks hours hour minutes
    minute time times run runs step steps started starts ended ends finished left right show
    shows shown opened closed close settings setting change changed changes keep kept lose lost
"""
ENGLISH_WORDS = frozenset(_ENGLISH.split())

CODE_TOKEN = re.compile(r"https?://\S+|\S+@\S+|\b[\w.-]*\d[\w.:/-]*\b|\b[A-Z]{2,}[\w-]*\b|#\w*")
RAW_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_INLINE = (
    "a abbr b bdi bdo cite data dfn em i label mark q s small span strong sub sup time u var wbr"
)
INLINE = frozenset(_INLINE.split())
# Not read: what the browser does not show, and code (a traceback for support, a token's
# header), which is written in no language.
HIDDEN = frozenset({"script", "style", "template", "pre", "code", "kbd", "samp"})
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
# Not pages to read: sign-out and the language switch (writes), Django's admin, the API, CSV.
SKIPPED = ("/accounts/logout/", "/i18n/", "/django-admin/", "/api/", "/static/")
# Bounds of the crawl (a page costs ~0.08 s): 1,200 user pages say nothing 3 do not. Each
# principal reads at most PER_ROUTE URLs of a route (query variants included); a route is read at
# most PER_LANGUAGE times in one language, except the pages where each organisation's story
# differs (its home, products, bills, Upgrade tab, runs).
PER_ROUTE = 2
PER_LANGUAGE = 3
STORY_ROUTES = frozenset(
    {
        "tenant_home",
        "products",
        "billing",
        "notifications",
        "upgrade_tab",
        "upgrade_status",
        "upgrade_report",
        "support_tenant",
        "support_run",
    }
)
PER_PRINCIPAL = 40


class VisibleText(HTMLParser):
    """Text a reader sees or hears, one node per block (inline markup does not split a
    sentence), plus the links to follow."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self.links: list[str] = []
        self._parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self._hidden += 1
            return
        if tag not in INLINE:
            self._flush()
        attributes = dict(attrs)
        self.nodes += [attributes[a] for a in READ_ATTRIBUTES if attributes.get(a)]
        kind = (attributes.get("type") or "").lower()
        if tag == "input" and kind in {"submit", "button", "reset"} and attributes.get("value"):
            self.nodes.append(attributes["value"])
        for link in (attributes.get("href"), attributes.get("hx-get")):
            if link and tag in {"a", "div", "section", "tr", "span", "tbody", "button"}:
                self.links.append(link)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in HIDDEN:
            self._hidden -= 1

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag not in INLINE:
            self._flush()

    def handle_data(self, data):
        if not self._hidden:
            self._parts.append(data)

    def _flush(self):
        text = " ".join("".join(self._parts).split())
        if text:
            self.nodes.append(text)
        self._parts = []

    def close(self):
        super().close()
        self._flush()


def parsed(html: str) -> VisibleText:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return parser


class Names:
    """Data of the database that no catalog translates: names, addresses, free text people
    typed. Found word by word (an index on each name's first word), not by one regex of
    thousands of alternatives."""

    def __init__(self, names):
        self.by_first_word = defaultdict(set)
        for name in names:
            name = " ".join(str(name).split())
            words = WORD.findall(name)
            if name and words:
                self.by_first_word[words[0].lower()].add(name.lower())
        for first in self.by_first_word:
            self.by_first_word[first] = sorted(self.by_first_word[first], key=len, reverse=True)

    def remove(self, text: str) -> str:
        lowered, out, at = text.lower(), [], 0
        for word in WORD.finditer(text):
            if word.start() < at:
                continue
            for name in self.by_first_word.get(word.group().lower(), ()):
                if lowered.startswith(name, word.start()):
                    out.append(text[at : word.start()] + " | ")
                    at = word.start() + len(name)
                    break
        return "".join(out) + text[at:]


def words_of(text: str) -> list[str]:
    """Lower-case words; a removed name or code leaves a "|" that no English run crosses."""
    return [
        w.lower().strip("'’-") if w != "|" else "|" for w in re.findall(r"\||" + WORD.pattern, text)
    ]


class EnglishMessages:
    """The catalog's English, as runs of ≥2 words between placeholders, that the language
    translates differently: seeing one on a page means an English message was shown."""

    def __init__(self, folder: str):
        self.by_start = defaultdict(set)
        for message in _catalog(folder):
            ids, strings = _forms(message)
            translated = " ".join(words_of(" ".join(strings)))
            for english in ids:
                for fragment in PLACEHOLDER.split(english):
                    words = tuple(w for w in words_of(fragment) if w != "|")
                    if len(words) >= 2 and f" {' '.join(words)} " not in f" {translated} ":
                        self.by_start[words[:2]].add(words)

    def find(self, words: list[str]) -> str | None:
        for i in range(len(words) - 1):
            for candidate in self.by_start.get((words[i], words[i + 1]), ()):
                if tuple(words[i : i + len(candidate)]) == candidate:
                    return " ".join(candidate)
        return None


def english_in(node: str, names: Names, messages: EnglishMessages | None) -> str | None:
    """Why `node` is not in the page's language (None when it is). English pages are only
    checked for raw codes."""
    code = RAW_CODE.search(node)
    if code:
        return f"raw code {code.group()!r}"
    if messages is None:
        return None
    words = words_of(CODE_TOKEN.sub(" | ", names.remove(node)))
    message = messages.find(words)
    if message:
        return f"English message {message!r}"
    run = []
    for word in words + ["|"]:
        if word in ENGLISH_WORDS:
            run.append(word)
            continue
        if len(run) >= 3:
            return f"English words {' '.join(run)!r}"
        run = []
    return None


def test_the_detector_finds_english_and_passes_the_language_names_and_codes():
    messages, names = EnglishMessages("sv"), Names(["Contoso Ltd", "Ada Andersson 0001"])
    assert english_in("Dina produkter", names, messages) is None
    assert (
        english_in("Ada Andersson 0001, Contoso Ltd: O365_E4, INV-000003", names, messages) is None
    )
    assert english_in("Your products", names, messages) == "English message 'your products'"
    assert english_in("it was moved to the new one", names, messages).startswith("English words")
    assert english_in("Status: awaiting_credit_check", names, None) == (
        "raw code 'awaiting_credit_check'"
    )


def test_visible_text_reads_labels_and_skips_scripts_and_code():
    page = parsed(
        '<title>Hem</title><p>Ett <a href="/t/x/">tillägg</a> köps</p><script>var a = "the end";'
        '</script><pre>Traceback: run_advance</pre><button aria-label="Stäng">x</button>'
        '<input type="submit" value="Spara">'
    )
    assert page.nodes == ["Hem", "Ett tillägg köps", "Stäng", "x", "Spara"]
    assert page.links == ["/t/x/"]


# --- The world: the demo, and the stories that leave texts to read later ----------------------


def _access(user, tenant):
    from portal.models import Membership
    from portal.selectors import TenantAccess

    role = Membership.objects.get(user=user, tenant=tenant).role
    return TenantAccess(user=user, tenant=tenant, role=role)


def _demo_admin(slug):
    from django.contrib.auth import get_user_model

    from portal.models import Tenant

    return SimpleNamespace(
        tenant=Tenant.objects.get(slug=slug),
        admin=get_user_model().objects.get(username=f"admin@{slug}.example"),
    )


def _stories():
    """What the demo only shows after days of use, made now through the services and the
    engine, as a worker would."""
    from billing.models import Subscription
    from billing.renewals import renewals_remind, subscriptions_renew
    from portal import clock
    from support.services import support_request_answer
    from tests.factories import UserFactory
    from tests.upgrades.conftest import checkout, make_e4_tenant, place
    from upgrades import engine, help, services
    from upgrades.models import RunState

    support = UserFactory(username="support@provider.example", is_staff=True)
    # Renewals: Fourth Coffee's card pays, Proseware's declines (an unpaid invoice, a reminder).
    clock.clock_advance(delta=dt.timedelta(days=2))
    subscriptions_renew()
    clock.clock_advance(delta=dt.timedelta(days=settings.PORTAL_RENEWAL_REMINDER_DAYS))
    renewals_remind()

    # Contoso upgrades to E5, to the end; then asks support about it and is answered.
    contoso = _demo_admin("contoso")
    contoso.e4 = Subscription.objects.get(tenant=contoso.tenant, product__code="O365_E4")
    done = place(contoso)
    engine.run_advance(run_id=done.pk)
    question = help.support_request_create(
        access=_access(contoso.admin, contoso.tenant),
        topic="upgrade",
        message="Do our phone numbers move too?",
        run=done,
    )
    support_request_answer(
        support_request=question, actor=support, answer="Yes, every number moves with its user."
    )

    # Northwind pays by invoice: its large order waits for a credit check.
    northwind = _demo_admin("northwind")
    northwind.e4 = Subscription.objects.get(tenant=northwind.tenant, product__code="O365_E4")
    waiting = place(northwind, payment_method="invoice")
    engine.run_advance(run_id=waiting.pk)

    # A declined credit check.
    declined = make_e4_tenant(users=60)
    run = place(declined, payment_method="invoice")
    engine.run_advance(run_id=run.pk)
    services.upgrade_credit_check_decide(run=run, approve=False, actor=support, reason="risk")

    # A run that fails before paying: more holders arrived than the order covers.
    short = make_e4_tenant(users=4, quantity=6)
    run = place(short)
    from tests.factories import users_with_licenses

    Subscription.objects.filter(pk=short.e4.pk).update(quantity=7)
    users_with_licenses(short.e4, 3)
    engine.run_advance(run_id=run.pk)

    # A run that fails after paying, on a bug that repeats: compensated, with a credit note.
    broken = make_e4_tenant(users=6, addons=[("PHONE_SYSTEM", 4, 3)])
    run = place(broken)

    def bug(run):
        raise RuntimeError("simulated")

    with mock.patch.dict(engine.STEP_HANDLERS, {RunState.MOVING_LICENSES: bug}):
        for _attempt in range(settings.PORTAL_UPGRADE_MAX_INTERNAL_ERRORS + 2):
            try:
                if engine.run_advance(run_id=run.pk) == RunState.FAILED:
                    break
            except RuntimeError:
                continue

    # A scheduled upgrade, two days from now.
    later = make_e4_tenant(users=5)
    cart = checkout(later)
    when = (clock.now() + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    cart = services.upgrade_checkout_window_set(cart=cart, actor=later.admin, scheduled_for=when)
    services.upgrade_place(
        tenant=later.tenant, actor=later.admin, cart=cart, idempotency_key=cart.checkout_token
    )

    # A cart at checkout, not placed yet: its cart, checkout and rehearsal pages.
    shopping = make_e4_tenant(users=5, addons=[("PHONE_SYSTEM", 5, 2)])
    cart = checkout(shopping)
    cart_pages = [
        reverse(name, args=[shopping.tenant.slug, cart.pk])
        for name in ("upgrade_cart", "upgrade_checkout", "upgrade_rehearsal")
    ]
    extra_admins = [declined, short, broken, later, shopping]
    return support, extra_admins, cart_pages


def _names() -> Names:
    from django.contrib.auth import get_user_model

    from billing.models import BillingProfile, Invoice, Product
    from licensing.models import DirectoryUser
    from portal.models import ApiToken, AuditEvent, ServiceIncident, Tenant
    from upgrades.models import SupportRequest

    names = []
    for tenant in Tenant.objects.all():
        names += [tenant.name, tenant.slug, tenant.city, tenant.address_line, tenant.time_zone]
    for profile in BillingProfile.objects.all():
        names += [profile.contact_name, profile.address_line, profile.city, profile.card_brand]
    names += Product.objects.values_list("name", flat=True)
    names += DirectoryUser.objects.values_list("display_name", flat=True)
    names += DirectoryUser.objects.values_list("department", flat=True)
    names += get_user_model().objects.values_list("username", flat=True)
    names += Invoice.objects.values_list("number", flat=True)
    names += ApiToken.objects.values_list("name", flat=True)
    names += ServiceIncident.objects.values_list("title", flat=True)
    # What people typed: a question, support's answer, the reasons support gave.
    for message, answer in SupportRequest.objects.values_list("message", "answer"):
        names += [message, answer]
    names += AuditEvent.objects.exclude(reason="").values_list("reason", flat=True)
    return Names(n for n in names if n)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The demo and its stories, in one transaction rolled back when the module ends."""
    from django.contrib.auth import get_user_model

    from billing.models import Subscription
    from portal.models import Tenant
    from upgrades.demo import demo_login
    from upgrades.models import UpgradeRun

    with django_db_blocker.unblock(), transaction.atomic():
        try:
            call_command("seed_demo", stdout=io.StringIO())
            support, extra, cart_pages = _stories()
            User = get_user_model()

            def admin(slug):
                return User.objects.get(username=demo_login(slug, "global_admin"))

            def starts(tenant):
                """Its home and the Upgrade tab of each of its plans."""
                plans = Subscription.objects.filter(tenant=tenant, is_addon=False)
                return [reverse("tenant_home", args=[tenant.slug])] + [
                    reverse("upgrade_tab", args=[tenant.slug, pk])
                    for pk in plans.order_by("pk").values_list("pk", flat=True)
                ]

            tenants = {t.slug: t for t in Tenant.objects.all()}
            # Contoso and the stories first: the routes they share with the other tenants are
            # read there (PER_LANGUAGE), the others add their own homes, bills and Upgrade tabs.
            story_slugs = ["contoso", "northwind"] + [t.tenant.slug for t in extra]
            principals = [("contoso", admin("contoso"), starts(tenants["contoso"]))]
            principals.append(
                (
                    "support",
                    support,
                    [reverse("support_console")]
                    + [reverse("support_tenant", args=[slug]) for slug in story_slugs]
                    + [
                        reverse("support_run", args=[pk])
                        for pk in UpgradeRun.objects.order_by("pk").values_list("pk", flat=True)
                    ],
                )
            )
            principals += [(t.tenant.slug, t.admin, starts(t.tenant)) for t in extra]
            principals[-1][2].extend(cart_pages)
            principals += [
                (slug, admin(slug), starts(tenants[slug]))
                for slug in DEMO_SLUGS
                if slug != "contoso"
            ]
            yield SimpleNamespace(principals=principals, names=_names())
        finally:
            transaction.set_rollback(True)


DEMO_SLUGS = [
    "contoso",
    "fabrikam",
    "northwind",
    "tailspin",
    "woodgrove",
    "adatum",
    "litware",
    "trey",
    "fourthcoffee",
    "proseware",
    "cityhall",
]


def crawl(client: Client, starts: list[str], read: Counter):
    """Same-site GET links from `starts`, breadth first, within the bounds above (`read`
    counts the routes read in this language so far); yields (url, status, html)."""
    queue, seen, mine, pages = deque(starts), set(), Counter(), 0
    while queue and pages < PER_PRINCIPAL:
        url = queue.popleft()
        path = urlsplit(url).path
        if url in seen or path.startswith(SKIPPED) or path.endswith(".csv"):
            continue
        seen.add(url)
        try:
            route = resolve(path).url_name
        except Resolver404:
            continue
        if url not in starts and (
            mine[route] >= PER_ROUTE or (route not in STORY_ROUTES and read[route] >= PER_LANGUAGE)
        ):
            continue
        mine[route] += 1
        read[route] += 1
        pages += 1
        response = client.get(url)
        html = ""
        if "html" in response.get("Content-Type", ""):
            # Refusals and the admin lock's page are read too; only pages are followed.
            html = response.content.decode()
        if response.status_code == 200 and html:
            for link in parsed(html).links:
                target = urlsplit(urljoin(url, link))
                if target.netloc in ("", "testserver") and target.path:
                    queue.append(target.path + (f"?{target.query}" if target.query else ""))
        yield url, response.status_code, html


# The mark makes pytest-django create the test database even when only this test is selected;
# the world itself lives in the module fixture's transaction.
@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans", "sv", "it", "nl"])
def test_every_page_reads_in_the_chosen_language(world, language):
    messages = EnglishMessages(CATALOGS[language]) if language != "en" else None
    # One entry per sentence: texts that differ only in their numbers and dates are one.
    failures = defaultdict(lambda: {"example": "", "urls": set()})
    statuses, read = Counter(), Counter()
    for _who, user, starts in world.principals:
        client = Client()
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        for url, status, html in crawl(client, starts, read):
            statuses[status] += 1
            texts = [("server error", str(status))] if status >= 500 else []
            if html:
                texts += [
                    (english_in(node, world.names, messages), node) for node in parsed(html).nodes
                ]
            for why, text in texts:
                if why:
                    failure = failures[(why, re.sub(r"\d[\d.,: ]*", "#", text))]
                    failure["example"] = failure["example"] or text
                    failure["urls"].add(url)

    report = [
        f"{failure['example'][:300]!r}\n    {why}; on {min(failure['urls'])}"
        + (f" and {len(failure['urls']) - 1} more" if len(failure["urls"]) > 1 else "")
        for (why, _), failure in sorted(failures.items(), key=lambda item: item[0][1])
    ]
    # The crawl reached the portal, not only refusals.
    assert statuses[200] >= 120, statuses
    assert report == [], f"{len(report)} texts not in {language} on its pages:\n" + "\n".join(
        report
    )
