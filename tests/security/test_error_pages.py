"""The portal's own error pages, with DEBUG off as in the demo: a 404 is the product's page and
never Django's debug page (which lists every URL pattern), the 500 page renders with no context
and no database, and the one-command demo (bin/run) serves all of that, and its static files,
with DEBUG off."""

import contextlib
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.template import loader
from django.test import Client
from django.urls import path

from tests.faults.redis_server import free_port
from tests.processes import bin_run_start, bin_run_stop, descendants
from tests.security.test_csp import inline_code, policy_problems

# Text of Django's technical 404 page, and URL patterns it would list.
DEBUG_PAGE_MARKS = ("URLconf", "Django tried these URL patterns", "django-admin/", "<slug:")


def _boom(request):
    raise RuntimeError("an unexpected failure")


# The URLconf of test_an_unexpected_error_answers_the_portals_500_page: one view that fails.
urlpatterns = [path("boom/", _boom)]


@pytest.mark.django_db
def test_a_missing_page_shows_the_portals_404_page_and_no_url_patterns(settings):
    settings.DEBUG = False

    response = Client().get("/no/such/page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert 'id="error-page"' in html and "Page not found" in html
    assert [mark for mark in DEBUG_PAGE_MARKS if mark in html] == []


@pytest.mark.django_db
def test_the_debug_404_that_the_demo_no_longer_serves_lists_url_patterns(settings):
    """The check above can fail: with DEBUG on, Django's page shows the patterns it looks for."""
    settings.DEBUG = True

    html = Client().get("/no/such/page/").content.decode()

    assert [mark for mark in DEBUG_PAGE_MARKS if mark in html]


def test_the_500_page_renders_with_no_context_and_no_database():
    # No django_db mark: pytest-django fails any query this rendering would make.
    html = loader.get_template("500.html").render()

    assert 'id="error-page"' in html and "Something went wrong" in html
    assert 'href="/static/portal/portal.css"' in html
    assert inline_code(html) == []


@pytest.mark.django_db
def test_an_unexpected_error_answers_the_portals_500_page_with_the_policy(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__

    response = Client(raise_request_exception=False).get("/boom/")

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "an unexpected failure" not in response.content.decode()
    assert policy_problems(response) == []


def _get(url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (our own server)
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.mark.worker
def test_the_demo_runs_with_debug_off_and_serves_its_error_pages_and_static_files(tmp_path):
    """The real bin/run, on its embedded defaults under a temporary PORTAL_VAR_DIR, with no
    DJANGO_DEBUG given: the sign-in page, a missing page and a static file over HTTP."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "DJANGO_"))
        and k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(PORTAL_VAR_DIR=str(tmp_path / "var"), PORT=str(port))
    out_path = tmp_path / "bin-run.out"
    base = f"http://127.0.0.1:{port}"
    with open(out_path, "wb") as out:
        run = bin_run_start(env=env, out=out)
    groups = {run.pid}
    try:
        deadline = time.monotonic() + 180
        sign_in = None
        while time.monotonic() < deadline and run.poll() is None:
            with contextlib.suppress(OSError):
                sign_in = _get(base + "/accounts/login/")
                break
            time.sleep(0.5)
        groups |= {row[2] for row in descendants(run.pid)}
        output = Path(out_path).read_text(errors="replace")[-3000:]
        assert sign_in is not None, "the demo never answered\n" + output

        missing = _get(base + "/no/such/page/")
        stylesheet = _get(base + "/static/portal/portal.css")
        script = _get(base + "/static/portal/portal.js")

        assert sign_in[0] == 200, output
        assert missing[0] == 404
        assert 'id="error-page"' in missing[2]
        assert [mark for mark in DEBUG_PAGE_MARKS if mark in missing[2]] == []
        assert "Content-Security-Policy" in missing[1]
        assert (stylesheet[0], script[0]) == (200, 200)
        assert "progress.progress" in stylesheet[2]
        assert "data-submit-on-change" in script[2]
    finally:  # stop it as Ctrl-C would, then kill whatever of ours is left
        bin_run_stop(run, groups=groups, timeout=30)
