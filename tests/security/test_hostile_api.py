"""Hostile input to every operation of the API never reaches a server error, is answered with
the API's JSON error (a stable code), and changes nothing.

The operations are read from the OpenAPI document, so a new one is covered without editing
this test. Each gets, with a valid token of a Global admin of a seeded tenant: hostile ids and
tenants in its path, hostile values for each of its query parameters and hostile query strings,
other methods, hostile Idempotency-Key headers when it takes one, and when it takes a body the
hand-written corpus of hostile.API_BODIES (deep nesting, huge numbers, NaN, duplicate keys,
NUL, control characters and lone surrogates, invalid UTF-8, wrong content types...); then a
property-based run (hypothesis, bounded) of the same kinds of input. Every table is compared
before and after (hostile.database_snapshot: a refused request writes only its token's last use).
"""

import itertools
import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.api import api as ninja_api
from tests.api.conftest import api_for  # noqa: F401 (a fixture, shared)
from tests.security.hostile import (
    API_BODIES,
    PATH_ID_SEGMENTS,
    QUERY_STRINGS,
    QUERY_VALUES,
    database_snapshot,
    fingerprint,
    snapshot_changes,
)

pytestmark = pytest.mark.django_db

HEADER_PARAMETER = "Idempotency-Key"

# Idempotency keys the API refuses (1 to 100 visible ASCII characters are a key).
HOSTILE_KEYS = ["", " ", "x" * 101, "\x00", "a\x00b", "naïve", "\x7f", "tab\tkey", "ÿ" * 50]

# Tenant segments that are no tenant of the token: none is found, whatever its form.
HOSTILE_TENANTS = ["%00", "%FF", "x" * 300, "..", "%2E%2E", "tenant%00", "%C3%A9"]


def _operations() -> list[tuple[str, str, dict, bool]]:
    """(path, method, {parameter: where}, takes a body) of each operation the API documents."""
    document = json.loads(json.dumps(ninja_api.get_openapi_schema()))
    return [
        (
            path,
            method,
            {p["name"]: p["in"] for p in operation.get("parameters", [])},
            "requestBody" in operation,
        )
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


OPERATIONS = _operations()


def _operation_id(operation) -> str:
    path, method, _parameters, _body = operation
    return f"{method.upper()} {path.removeprefix('/api/v1/tenants/{tenant_slug}/')}"


@pytest.fixture
def seeded(world, api_for):  # noqa: F811 (the fixture imported above)
    """A token of a Global admin of the world's tenant, the ids its paths and queries name,
    and the second tenant's ids (foreign)."""
    t, second = world["t"], world["second"]
    client = api_for(t.tenant)
    own = {
        "tenant_slug": t.tenant.slug,
        "subscription_id": t.e4.pk,
        "run_id": world["ids"]["run_id"],
    }
    foreign = {"tenant_slug": second.tenant.slug, "subscription_id": second.e4.pk}
    return client, own, foreign


class Sender:
    """Sends requests and records every answer that breaks the API's error contract."""

    def __init__(self, client):
        self.client = client.client
        self.statuses = {}
        self.broken = []

    def send(self, method, url, *, body=b"", content_type="application/json", headers=None, what):
        response = self.client.generic(
            method.upper(), url, body, content_type=content_type, headers=headers or {}
        )
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        problem = _contract_broken(response)
        if problem:
            self.broken.append((method, fingerprint(url), what, response.status_code, problem))
        return response


def _contract_broken(response) -> str | None:
    if response.status_code >= 500:
        return "server error"
    if response.status_code < 400 and response["Content-Type"].startswith("text/csv"):
        return None  # a download the OpenAPI document declares as text/csv; errors stay JSON
    if not response["Content-Type"].startswith("application/json"):
        return f"not JSON: {response['Content-Type']}"
    if response.status_code >= 400:
        try:
            code = json.loads(response.content).get("code")
        except ValueError:
            return "not JSON"
        if not code:
            return "no code"
    return None


def _url(path: str, values: dict) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(values[m[1]]), path)


def _valid_query(parameters: dict, own: dict) -> dict:
    """The query parameters an operation needs to get past them: its required ids."""
    return {
        name: own[name] for name, where in parameters.items() if where == "query" and name in own
    }


def _query_string(values: dict) -> str:
    return "&".join(f"{name}={value}" for name, value in values.items())


def _headers(parameters: dict, key: str = "hostile-corpus-key") -> dict:
    return {HEADER_PARAMETER: key} if HEADER_PARAMETER in parameters else {}


# --- Hand-written corpus ---------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS, ids=_operation_id)
def test_the_hand_written_corpus_gets_json_errors_and_changes_nothing(seeded, operation):
    client, own, foreign = seeded
    path, method, parameters, takes_body = operation
    sender = Sender(client)
    query = _valid_query(parameters, own)
    url = _url(path, own) + (f"?{_query_string(query)}" if query else "")
    keys = itertools.count()
    before = database_snapshot()

    # Path: every parameter in turn given each hostile segment, and the other tenant's value.
    for name, where in parameters.items():
        if where != "path":
            continue
        segments = HOSTILE_TENANTS if name == "tenant_slug" else PATH_ID_SEGMENTS
        for segment in [*segments, foreign.get(name)]:
            if segment is not None:
                sender.send(method, _url(path, {**own, name: segment}), what=(name, segment))
    # Query: every parameter in turn given each hostile value, the others valid; then hostile
    # query strings.
    for name, where in parameters.items():
        if where != "query":
            continue
        for value in QUERY_VALUES:
            hostile = _query_string({**query, name: value})
            sender.send(method, f"{_url(path, own)}?{hostile}", what=(name, fingerprint(value)))
    for raw in QUERY_STRINGS:
        sender.send(method, f"{_url(path, own)}?{raw}", what=fingerprint(raw))
    # Methods the path does not take.
    for other in ("put", "patch", "delete"):
        sender.send(other, url, body=b'{"a": [[[[1]]]]}', what=other)
    # Headers.
    if HEADER_PARAMETER in parameters:
        for key in HOSTILE_KEYS:
            sender.send(method, url, body=b"{}", headers={HEADER_PARAMETER: key}, what=key)
    # Bodies.
    if takes_body:
        for name, body, content_type in API_BODIES:
            headers = _headers(parameters, f"hostile-{next(keys)}")
            sender.send(
                method, url, body=body, content_type=content_type, headers=headers, what=name
            )

    assert sender.broken == [], "\n".join(map(repr, sender.broken))
    assert snapshot_changes(before, database_snapshot()) == {}
    # The corpus reached the operation: refused for what it sent, not for the token.
    assert 400 in sender.statuses or 404 in sender.statuses, sender.statuses
    assert not {401, 403} & set(sender.statuses), sender.statuses


def test_each_body_of_the_corpus_is_refused_with_its_own_code(seeded):
    """The body corpus is refused for the right reason, not by accident (e.g. all of it for
    a missing field)."""
    client, own, _foreign = seeded
    url = _url("/api/v1/tenants/{tenant_slug}/licenses/assign", own)
    codes = {}

    for name, body, content_type in API_BODIES:
        response = client.client.generic("POST", url, body, content_type=content_type)
        codes[name] = response.json()["code"]

    assert codes["deep arrays"] == codes["deep in a field"] == "json_too_deep"
    assert codes["deep unclosed"] == codes["deep just over the limit"] == "json_too_deep"
    assert codes["huge integer"] == codes["float overflow"] == "number_too_large"
    assert codes["duplicate keys"] == "duplicate_keys"
    assert codes["NaN"] == codes["lone surrogate"] == codes["invalid UTF-8"] == "invalid_json"
    assert codes["form-encoded"] == codes["no content type"] == "unsupported_media_type"
    assert codes["NUL in a value"] == codes["wrong types"] == "invalid_request"


# --- Property-based corpus -------------------------------------------------------------------

# Bounded so that the whole run takes seconds.
EXAMPLES_PER_OPERATION = 30

# Text with everything JSON can escape: NUL, control characters, lone surrogates, bidi marks.
any_text = st.text(st.characters(codec=None), max_size=40)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
)
json_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(any_text, children, max_size=4),
    ),
    max_leaves=12,
)


def _deep(depth: int, shape: str) -> bytes:
    opener, closer = {"array": (b"[", b"]"), "object": (b'{"a":', b"}")}[shape]
    return opener * depth + b"0" + closer * depth


# Field names the operations take, so that a hostile value often lands on a real field.
FIELD_NAMES = ["subscription_id", "users", "source_id", "target_id", "target", "quantity"]

raw_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(FIELD_NAMES) | any_text, json_values, max_size=5).map(
        lambda v: json.dumps(v).encode()
    ),
    st.tuples(st.integers(33, 20_000), st.sampled_from(["array", "object"])).map(
        lambda args: _deep(*args)
    ),
    st.integers(100, 20_000).map(lambda n: b'{"subscription_id": ' + b"9" * n + b"}"),
    st.binary(max_size=200),
)
content_types = st.sampled_from(
    ["application/json"] * 4
    + ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
# Query values as a client would send them (encoded), and raw, broken percent-encoding.
query_values = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30).map(quote),
    st.text("%0123456789abcdefABCDEFxyz", max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
path_segments = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20).map(
        lambda s: quote(s, safe="")
    ),
)
keys = st.text(st.characters(max_codepoint=255), max_size=120)


@pytest.mark.parametrize("operation", OPERATIONS, ids=_operation_id)
def test_a_property_based_corpus_gets_json_errors_and_changes_nothing(seeded, operation):
    client, own, _foreign = seeded
    path, method, parameters, takes_body = operation
    sender = Sender(client)
    names = [name for name, where in parameters.items() if where == "query"] + ["zz"]
    path_names = [name for name, where in parameters.items() if where == "path"]
    before = database_snapshot()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path_values=st.fixed_dictionaries({}, optional=dict.fromkeys(path_names, path_segments)),
        query=st.dictionaries(st.sampled_from(names), query_values, max_size=3),
        body=raw_bodies if takes_body else st.just(b""),
        content_type=content_types,
        key=keys,
    )
    def run(path_values, query, body, content_type, key):
        values = {**own, **path_values}
        query = {**_valid_query(parameters, own), **query}
        url = _url(path, values) + (f"?{_query_string(query)}" if query else "")
        headers = {HEADER_PARAMETER: key} if HEADER_PARAMETER in parameters else {}
        sender.send(
            method, url, body=body, content_type=content_type, headers=headers, what=body[:80]
        )

    run()

    assert sender.broken == [], "\n".join(map(repr, sender.broken))
    assert snapshot_changes(before, database_snapshot()) == {}
