"""Sessions: kept in PostgreSQL, read through the Redis cache (portal/sessions.py), and still
working when Redis is gone."""

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.models import Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password"  # noqa: S105 (a test account's)

# Nothing listens on port 1: every cache call fails at once (connection refused).
REDIS_GONE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def sign_in(tenant) -> tuple[Client, object]:
    user = UserFactory()
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(user=user, tenant=tenant, role=Role.GLOBAL_ADMIN)
    client = Client()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client, user


def test_sessions_are_read_from_the_cache_not_the_database(tenant, settings):
    assert settings.SESSION_ENGINE == "portal.sessions"
    client, _user = sign_in(tenant)
    home = reverse("products", args=[tenant.slug])
    assert client.get(home).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(home).status_code == 200
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"]]


def test_a_cached_session_lives_minutes_not_the_sessions_age(tenant, settings):
    settings.PORTAL_SESSION_CACHE_SECONDS = 120
    client, _user = sign_in(tenant)
    key = client.session.cache_key
    ttl = cache._cache.get_client(key).ttl(cache.make_and_validate_key(key))
    assert 0 < ttl <= 120


def test_sign_out_ends_the_session_in_the_cache_too(tenant):
    client, _user = sign_in(tenant)
    session_key = client.session.session_key
    assert client.post(reverse("logout")).status_code == 302
    assert not Session.objects.filter(session_key=session_key).exists()
    stale = Client()
    stale.cookies["sessionid"] = session_key
    response = stale.get(reverse("products", args=[tenant.slug]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_with_redis_gone_admins_sign_in_work_and_sign_out(tenant, settings):
    settings.CACHES = REDIS_GONE
    client, _user = sign_in(tenant)
    session_key = client.session.session_key
    assert Session.objects.filter(session_key=session_key).exists()
    assert client.get(reverse("products", args=[tenant.slug])).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert not Session.objects.filter(session_key=session_key).exists()
    response = client.get(reverse("products", args=[tenant.slug]))
    assert response.status_code == 302
