"""The OpenAPI document validates, and a property-based run over it (schemathesis, bounded)
meets no server error and no response the document does not describe."""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.api.openapi import openapi_document
from portal.models import Role

from ..factories import DirectoryUserFactory, SubscriptionFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db


def test_the_openapi_document_is_valid():
    validate(openapi_document())


def test_every_api_route_is_described_and_every_description_is_routed():
    from django.urls import get_resolver

    from portal.api import urls

    routed = set()
    for pattern in urls.urlpatterns:
        methods = getattr(pattern.callback, "api_methods", None)
        if methods:
            path = "/api/" + str(pattern.pattern)
            path = path.replace("<slug:tenant_slug>", "{tenant_slug}")
            path = path.replace("<api_id:", "{").replace(">", "}")
            routed |= {(path, m.lower()) for m in methods}
    described = {
        (path, method) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert routed == described
    assert get_resolver()  # the root URLconf loads with the API included


# Bounded so that the whole run takes seconds; every operation gets its own share.
EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_app():
    """Django as a plain WSGI app inside the test's transaction: like the test client, keep the
    request signals from closing the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def populated(tenant, api_for):
    """A tenant with something behind every endpoint: subscriptions, add-ons, holders."""
    e4 = SubscriptionFactory(tenant=tenant, product=product("O365_E4"), quantity=20)
    SubscriptionFactory(tenant=tenant, product=product("PHONE_SYSTEM"), parent=e4)
    SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=20)
    users_with_licenses(e4, 5)
    DirectoryUserFactory(tenant=tenant)
    return api_for(tenant, Role.GLOBAL_ADMIN)


OPERATIONS = [
    (path, method) for path, item in openapi_document()["paths"].items() for method in item
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_a_property_based_run_over_each_operation_finds_no_server_error(
    wsgi_app, populated, path, method
):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operation = schema[path][method.upper()]
    fixed = {
        "path_parameters": {"tenant_slug": populated.tenant.slug},
        "headers": {"Authorization": f"Bearer {populated.token}"},
    }
    # Valid requests, and requests that break the document on purpose (wrong types, missing
    # fields, out-of-range ids): neither may meet a server error.
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, **fixed),
        operation.as_strategy(GenerationMode.NEGATIVE, **fixed),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call()
        # (Not case.as_curl_command() as the message: building it may reject the example,
        # which would hide the failure.)
        assert response.status_code < 500, (case.method, case.formatted_path, case.query)
        assert response.headers["content-type"][0].startswith("application/json")
        # Not positive_data_acceptance: a schema-valid request may still break a product rule
        # (an unknown user, too few licenses) and be refused with 422, as documented.
        case.validate_response(response, checks=CHECKS)

    run()
