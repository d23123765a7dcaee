"""/api/: version 1 of the JSON API, and a JSON 404 for every other path under /api/.

The NinjaAPI mounts each app's router under /api/v1/tenants/<tenant_slug>/, answers every error
as JSON (portal/api/errors.py) and generates the OpenAPI document, served without a token at
/api/v1/openapi.json. There is no Swagger page: it would load its assets from a CDN."""

from functools import wraps

from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, path, re_path, register_converter
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from billing.api import router as billing_router
from licensing.api import router as licensing_router
from portal.api.errors import EXCEPTION_HANDLERS, error_response, method_not_allowed_response
from portal.api.fields import MAX_ID, JsonParser
from upgrades.api import router as upgrades_router


class IdConverter:
    """A positive id that fits a bigint; anything else is not a path of the API (a JSON 404),
    and never reaches the database."""

    regex = "[1-9][0-9]{0,18}"

    def to_python(self, value):
        number = int(value)
        if number > MAX_ID:
            raise ValueError
        return number

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "api_id")


class PortalOpenApiSchema(OpenAPISchema):
    """ninja's document, with what each operation's authentication says of it
    (TokenAuth.operation_openapi_extra): the scope it needs, in its security requirement (OpenAPI
    3.1 lets a requirement name roles for any scheme) and in `x-required-scope`, and the errors
    every authenticated request may get. Generated from the operation's TokenAuth instance, so
    no operation describes its scope by hand."""

    def operation_details(self, operation) -> dict:
        details = super().operation_details(operation)
        for auth in operation.auth_callbacks:
            extra = getattr(auth, "operation_openapi_extra", None)
            if extra is None:
                continue
            extra = extra()
            details["security"] = extra["security"]
            if extra["x-required-scope"]:
                details["x-required-scope"] = extra["x-required-scope"]
                sentence = f"Token scope: `{extra['x-required-scope']}`."
                details["description"] = "\n\n".join(
                    part for part in (details.get("description"), sentence) if part
                )
            for status, response in extra["responses"].items():
                # What errors.py documents for a status (if it does) comes first.
                details["responses"].setdefault(status, response)
        return details


class PortalApi(NinjaAPI):
    def get_content_type(self) -> str:
        # "application/json", without a charset parameter, as every answer of the API
        # (errors included) has always been.
        return self.renderer.media_type

    def get_openapi_schema(self, *, path_prefix=None, path_params=None) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return PortalOpenApiSchema(self, path_prefix)


api = PortalApi(
    title="Plan-upgrade admin portal API",
    version="1",
    description=(
        "Bulk license work and plan upgrades for tenant admins. Authenticate with a token "
        "created on the portal's API tokens page: `Authorization: Bearer <token>`. A token "
        "acts as its admin, in that admin's tenant only, with that admin's role narrowed to "
        "the token's scopes (see the TokenAuth security scheme); it expires on the date chosen "
        "when it was created. Errors are "
        "JSON objects with a `code` and a `message`, and `details` when there are any."
    ),
    servers=[{"url": "/"}],
    urls_namespace="api",
    # Served by openapi_json below, under the name the API tokens page links to.
    openapi_url=None,
    docs_url=None,
    parser=JsonParser(),
)
for exception_class, handler in EXCEPTION_HANDLERS.items():
    api.add_exception_handler(exception_class, handler)

TENANT = "/tenants/{slug:tenant_slug}"
api.add_router(TENANT, billing_router)
api.add_router(TENANT, licensing_router)
api.add_router(TENANT, upgrades_router)


# Token requests carry no cookies, so there is nothing to forge: no CSRF check, which would
# answer an HTML 403 to a POST.
@csrf_exempt
def openapi_json(request):
    """The OpenAPI document, generated from the routers and their schemas; no token needed."""
    if request.method not in ("GET", "HEAD"):
        return error_response(
            405, "method_not_allowed", _("This path accepts only GET."), headers={"Allow": "GET"}
        )
    return JsonResponse(api.get_openapi_schema())


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Every /api/ path that is not an endpoint: a JSON 404, never the HTML page."""
    return error_response(404, "not_found", _("There is no such API path."))


def _json_errors(view):
    """What ninja answers outside its exception handlers, as the API's JSON errors: a method the
    path does not accept (ninja's plain-text 405) and its root view's 404."""

    @wraps(view)  # keeps csrf_exempt: token requests carry no cookies to forge
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:  # only ninja's root view raises it: operations answer it themselves
            return not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            allow = [method.strip() for method in response["Allow"].split(",")]
            return method_not_allowed_response(request, allow)
        return response

    return wrapper


def _api_patterns():
    patterns, app_name, namespace = api.urls
    wrapped = [
        URLPattern(p.pattern, _json_errors(p.callback), p.default_args, p.name) for p in patterns
    ]
    return wrapped, app_name, namespace


urlpatterns = [
    path("v1/openapi.json", openapi_json, name="api_openapi"),
    path("v1/", _api_patterns()),
    re_path(r"", not_found),
]
