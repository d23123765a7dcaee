"""The OpenAPI 3.1 description of /api/v1/, written by hand as data: the contract integrators
code against, served at /api/v1/openapi.json and checked by the tests (the document validates,
and a property-based run over it meets every documented response)."""

from copy import deepcopy

MAX_ID = 2**63 - 1


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _response(description: str, schema_name: str) -> dict:
    return {"description": description, "content": _json(_ref(schema_name))}


def _error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
NULLABLE_ID = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}
# Printable text with at least one character that is not a space.
UPN = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$",
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "Stable, machine-readable reason."},
            "message": {"type": "string", "description": "Fit to show an admin."},
            "details": {"description": "Offending fields or users, when there are any."},
        },
    },
    "Product": {
        "type": "object",
        "required": ["code", "name"],
        "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
    },
    "Subscription": {
        "type": "object",
        "required": [
            "id",
            "product",
            "is_addon",
            "parent_id",
            "status",
            "quantity",
            "assigned",
            "billing_frequency",
            "channel",
            "paid_through",
        ],
        "properties": {
            "id": ID,
            "product": _ref("Product"),
            "is_addon": {"type": "boolean"},
            "parent_id": NULLABLE_ID,
            "status": {
                "type": "string",
                "enum": ["provisioning", "active", "expired", "disabled", "deleted"],
            },
            "quantity": {"type": "integer", "minimum": 0, "description": "Licenses bought."},
            "assigned": {"type": ["integer", "null"], "description": "Licenses assigned."},
            "billing_frequency": {"type": "string", "enum": ["monthly", "yearly"]},
            "channel": {
                "type": "string",
                "enum": ["direct_card", "direct_invoice", "partner", "volume"],
            },
            "is_trial": {"type": "boolean"},
            "is_prepaid": {"type": "boolean"},
            "offer": {"type": "string", "enum": ["commercial", "government", "nonprofit"]},
            "recurring_billing": {"type": "boolean"},
            "paid_through": {"type": "string", "format": "date"},
            "status_since": {"type": "string", "format": "date-time"},
            "addons": {
                "type": "array",
                "items": _ref("Subscription"),
                "description": "Add-ons attached to a base subscription.",
            },
        },
    },
    "SubscriptionList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("Subscription")}},
    },
    "LicenseHolder": {
        "type": "object",
        "required": ["user_id", "upn", "display_name", "assigned_at"],
        "properties": {
            "user_id": ID,
            "upn": {"type": "string"},
            "display_name": {"type": "string"},
            "assigned_at": {"type": "string", "format": "date-time"},
        },
    },
    "LicensePage": {
        "type": "object",
        "required": ["subscription_id", "items", "next_after"],
        "properties": {
            "subscription_id": ID,
            "items": {"type": "array", "items": _ref("LicenseHolder")},
            "next_after": {
                **NULLABLE_ID,
                "description": "Pass as `after` for the next page; null on the last page.",
            },
        },
    },
    "Users": {
        "type": "array",
        "minItems": 1,
        "maxItems": 50000,
        "items": UPN,
        "description": (
            "User principal names of this tenant's directory users; matched exactly, or "
            "ignoring case when that names one user. Unknown users (including another "
            "tenant's) and users named twice refuse the whole request."
        ),
    },
    "BulkLicenses": {
        "type": "object",
        "required": ["subscription_id", "users"],
        "additionalProperties": False,
        "properties": {"subscription_id": ID, "users": _ref("Users")},
    },
    "BulkReplace": {
        "type": "object",
        "required": ["source_id", "target_id", "users"],
        "additionalProperties": False,
        "properties": {"source_id": ID, "target_id": ID, "users": _ref("Users")},
    },
    "BulkResult": {
        "type": "object",
        "required": ["operation", "changed"],
        "properties": {
            "operation": {"type": "string", "enum": ["assign", "unassign", "replace"]},
            "subscription_id": ID,
            "source_id": ID,
            "target_id": ID,
            "changed": {"type": "integer", "minimum": 0},
        },
    },
}

RESPONSES = {
    "BadRequest": {
        "description": "Malformed request: not JSON, a missing or mistyped field.",
        "content": _json(_ref("Error")),
    },
    "Unauthenticated": {
        "description": "No token, or a token that is not valid or has been revoked.",
        "content": _json(_ref("Error")),
    },
    "Forbidden": {
        "description": "The token's admin role does not allow this action.",
        "content": _json(_ref("Error")),
    },
    "NotFound": {
        "description": "No such resource in this tenant (another tenant's data is never "
        "acknowledged).",
        "content": _json(_ref("Error")),
    },
    "Conflict": {
        "description": "The request conflicts with the current state (e.g. an idempotency "
        "key reused with a different body).",
        "content": _json(_ref("Error")),
    },
    "TooLarge": {"description": "The request body is too large.", "content": _json(_ref("Error"))},
    "Unprocessable": {
        "description": "Well-formed, but refused by a product rule; nothing was changed.",
        "content": _json(_ref("Error")),
    },
    "Locked": {
        "description": "An upgrade is in progress: the tenant's admin center is locked.",
        "content": _json(_ref("Error")),
    },
}

TENANT = {
    "name": "tenant_slug",
    "in": "path",
    "required": True,
    "description": "The tenant's short name; a token works only in its own tenant.",
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: dict, description: str, *, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _errors(*names: str) -> dict:
    codes = {
        "BadRequest": "400",
        "Unauthenticated": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "Conflict": "409",
        "TooLarge": "413",
        "Unprocessable": "422",
        "Locked": "423",
    }
    return {codes[name]: _error(name) for name in ("Unauthenticated", "NotFound", *names)}


def _bulk(summary: str, schema: str, description: str) -> dict:
    return {
        "post": {
            "summary": summary,
            "description": description,
            "tags": ["licenses"],
            "parameters": [TENANT],
            "requestBody": {"required": True, "content": _json(_ref(schema))},
            "responses": {
                "200": _response("Every named user changed.", "BulkResult"),
                **_errors("BadRequest", "Forbidden", "TooLarge", "Unprocessable", "Locked"),
            },
        }
    }


TENANT_PREFIX = "/api/v1/tenants/{tenant_slug}"

PATHS = {
    f"{TENANT_PREFIX}/subscriptions": {
        "get": {
            "summary": "List subscriptions, each with its add-ons",
            "tags": ["subscriptions"],
            "parameters": [
                TENANT,
                _query(
                    "status",
                    {"type": "string", "enum": ["active", "expired", "disabled", "all"]},
                    "Which subscriptions: active (and provisioning), expired, disabled or all "
                    "but deleted (the default).",
                ),
            ],
            "responses": {
                "200": _response("The tenant's base subscriptions.", "SubscriptionList"),
                **_errors("BadRequest", "Forbidden", "Locked"),
            },
        }
    },
    f"{TENANT_PREFIX}/subscriptions/{{subscription_id}}": {
        "get": {
            "summary": "One subscription, with its add-ons when it is a base subscription",
            "tags": ["subscriptions"],
            "parameters": [TENANT, _path_id("subscription_id")],
            "responses": {
                "200": _response("The subscription.", "Subscription"),
                **_errors("Forbidden", "Locked"),
            },
        }
    },
    f"{TENANT_PREFIX}/licenses": {
        "get": {
            "summary": "List who holds a subscription's licenses",
            "tags": ["licenses"],
            "parameters": [
                TENANT,
                _query("subscription_id", ID, "The subscription.", required=True),
                _query("after", ID, "next_after of the previous page."),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    "Page size.",
                ),
            ],
            "responses": {
                "200": _response("One page of holders, ordered by user id.", "LicensePage"),
                **_errors("BadRequest", "Forbidden", "Locked"),
            },
        }
    },
    f"{TENANT_PREFIX}/licenses/assign": _bulk(
        "Assign licenses to many users",
        "BulkLicenses",
        "Gives each named user a license of the subscription. All or nothing.",
    ),
    f"{TENANT_PREFIX}/licenses/unassign": _bulk(
        "Unassign licenses from many users",
        "BulkLicenses",
        "Takes the subscription's license away from each named user. All or nothing.",
    ),
    f"{TENANT_PREFIX}/licenses/replace": _bulk(
        "Move many users from one subscription to another",
        "BulkReplace",
        "Re-points each named user's license from the source to the target subscription; at "
        "every instant each user holds exactly one of the two. All or nothing.",
    ),
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Plan-upgrade admin portal API",
        "version": "1",
        "description": (
            "Bulk license work and plan upgrades for tenant admins. Authenticate with a token "
            "created on the portal's API tokens page: `Authorization: Bearer <token>`. A token "
            "acts as its admin, with that admin's role, in that admin's tenant only. Errors are "
            "JSON objects with a `code` and a `message`."
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "tags": [
        {"name": "subscriptions"},
        {"name": "licenses"},
        {"name": "upgrades"},
    ],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
        "responses": RESPONSES,
    },
}


def openapi_document() -> dict:
    return deepcopy(DOCUMENT)
