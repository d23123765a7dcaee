"""The admins of bench/web_load.py, for locust: run by that script, not by hand.

Two kinds of admin, each with a session made beforehand (so no password hashing falls inside
the measured window) and read from the plan file named by BENCH_WEB_PLAN:
- browsing admins of tenants that are not upgrading: Your products, Users (first page, name
  and user-name searches, the next page), the Upgrade tab of the E4 plan, and now and then a
  cart taken to checkout (create the cart, open it, continue to checkout, open checkout);
- status pollers, admins of tenants whose upgrade is running: the status page's htmx poll,
  once a second, as the page's hx-trigger="every 1s" does.

Every request is named after its page, so locust's statistics are per page."""

import json
import os
import random
import re
from http.cookiejar import Cookie

import gevent
from locust import FastHttpUser, between, constant, task

PLAN = json.loads(open(os.environ["BENCH_WEB_PLAN"]).read())
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NEXT = re.compile(r'href="([^"]*after=\d+[^"]*)" hx-get')
SEARCHES = ["Ada", "Bo", "Dana", "Dana Bianchi 000029", "user0000", "user0042", "Zo"]


def session_take(kind: str) -> dict:
    return PLAN[kind].pop()


def session_cookie(host: str, value: str) -> Cookie:
    return Cookie(
        version=0,
        name="sessionid",
        value=value,
        port=None,
        port_specified=False,
        domain=host,
        domain_specified=False,
        domain_initial_dot=False,
        path="/",
        path_specified=True,
        secure=False,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={"HttpOnly": None},
        rfc2109=False,
    )


class PortalAdmin(FastHttpUser):
    abstract = True
    kind = ""

    def on_start(self):
        self.me = session_take(self.kind)
        host = self.host.split("://", 1)[1].split(":")[0]
        self.client.cookiejar.set_cookie(session_cookie(host, self.me["session"]))
        self.base = f"/t/{self.me['tenant']}"

    def page(self, path: str, name: str, **kwargs):
        with self.client.get(path, name=name, catch_response=True, **kwargs) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} on {path}")
            elif "sign in" in response.text.lower() and "/accounts/login" in response.url:
                response.failure("sent to the sign-in page")
            return response


class BrowsingAdmin(PortalAdmin):
    kind = "browsing"
    wait_time = between(1, 3)

    @task(3)
    def products(self):
        self.page(f"{self.base}/billing/products/", "Your products")

    @task(3)
    def users(self):
        response = self.page(f"{self.base}/users/", "Users: first page")
        link = NEXT.search(response.text or "")
        if link:
            self.page(link.group(1).replace("&amp;", "&"), "Users: next page")

    @task(2)
    def users_search(self):
        self.page(f"{self.base}/users/", "Users: search", params={"q": random.choice(SEARCHES)})

    @task(2)
    def upgrade_tab(self):
        self.page(f"{self.base}/upgrade/subscriptions/{self.me['e4']}/", "Upgrade tab")

    @task(1)
    def cart_to_checkout(self):
        tab = self.page(f"{self.base}/upgrade/subscriptions/{self.me['e4']}/", "Upgrade tab")
        token = CSRF.search(tab.text or "")
        if not token:
            tab.failure("no form on the Upgrade tab")
            return
        csrf = {"csrfmiddlewaretoken": token.group(1)}
        headers = {"Referer": f"{self.host}{self.base}/"}
        with self.client.post(
            f"{self.base}/upgrade/subscriptions/{self.me['e4']}/cart/",
            data={**csrf, "target": "O365_E5"},
            headers=headers,
            name="Cart: create",
            allow_redirects=False,
            catch_response=True,
        ) as created:
            if created.status_code != 302 or "/carts/" not in created.headers.get("Location", ""):
                created.failure(f"{created.status_code}: no cart")
                return
        cart = created.headers["Location"]
        page = self.page(cart, "Cart")
        form = {**csrf, "billing_frequency": "monthly", "quantity": self.me["quantity"]}
        with self.client.post(
            cart,
            data=form,
            headers=headers,
            name="Cart: continue",
            allow_redirects=False,
            catch_response=True,
        ) as continued:
            if continued.status_code != 302:
                continued.failure(f"{continued.status_code}: {page.url} did not continue")
                return
        self.page(continued.headers["Location"], "Checkout")


class StatusPoller(PortalAdmin):
    kind = "polling"
    fixed_count = len(PLAN["polling"])
    # hx-trigger="every 1s": a poll a second (each poll answers in milliseconds). Not locust's
    # constant_pacing: with it the measured times of these polls tripled while gunicorn's own
    # timings of them stayed the same (docs/PERFORMANCE.md).
    wait_time = constant(1)

    def on_start(self):
        super().on_start()
        # Locust starts these admins in one tick; real ones opened their status pages at
        # moments of their own, so their polls do not all fall in the same millisecond.
        gevent.sleep(random.random())

    @task
    def poll(self):
        self.page(
            f"{self.base}/upgrade/runs/{self.me['run']}/",
            "Status poll",
            headers={"HX-Request": "true", "HX-Current-URL": self.me["run_url"]},
        )
