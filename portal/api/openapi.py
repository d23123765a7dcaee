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

RUN_STATES = [
    "placed",
    "awaiting_credit_check",
    "provisioning",
    "moving_licenses",
    "removing_addons",
    "cancelling_source",
    "completed",
    "declined",
    "failed",
]

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
    "Reason": {
        "type": "object",
        "required": ["code", "message", "remedy", "temporary"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "remedy": {"type": "string"},
            "temporary": {
                "type": "boolean",
                "description": "True when the reason passes by itself (try again later).",
            },
        },
    },
    "AddonRef": {
        "type": "object",
        "required": ["subscription_id", "code", "name"],
        "properties": {
            "subscription_id": ID,
            "code": {"type": "string"},
            "name": {"type": "string"},
        },
    },
    "Eligibility": {
        "type": "object",
        "required": ["subscription_id", "eligible", "reasons", "targets"],
        "properties": {
            "subscription_id": ID,
            "eligible": {"type": "boolean"},
            "reasons": {
                "type": "array",
                "items": _ref("Reason"),
                "description": "Why the subscription cannot be upgraded now (empty when it can).",
            },
            "targets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "name", "available", "reasons"],
                    "properties": {
                        "code": {"type": "string"},
                        "name": {"type": "string"},
                        "available": {"type": "boolean"},
                        "reasons": {"type": "array", "items": _ref("Reason")},
                        "moved_addons": {"type": "array", "items": _ref("AddonRef")},
                        "removed_addons": {"type": "array", "items": _ref("AddonRef")},
                        "lost_services": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "UpgradeRequest": {
        "type": "object",
        "required": ["subscription_id", "target"],
        "additionalProperties": False,
        "properties": {
            "subscription_id": {**ID, "description": "The subscription to upgrade from."},
            "target": {
                "type": "string",
                "minLength": 1,
                "maxLength": 40,
                "pattern": "^[A-Za-z0-9_]+$",
                "description": "Product code of the target plan (see eligibility).",
            },
            "billing_frequency": {
                "type": "string",
                "enum": ["monthly", "yearly"],
                "description": "Defaults to the source subscription's.",
            },
            "quantity": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000000,
                "description": "Licenses to buy; at least the current quantity. Defaults to it.",
            },
            "payment_method": {"type": "string", "enum": ["card", "invoice"]},
            "po_number": {"type": "string", "maxLength": 60, "pattern": "^[^\\x00-\\x1f\\x7f]*$"},
        },
    },
    "UpgradeEvent": {
        "type": "object",
        "required": ["from", "to", "at", "actor", "reason"],
        "properties": {
            "from": {"type": ["string", "null"]},
            "to": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "actor": {"type": ["string", "null"]},
            "reason": {"type": "string"},
        },
    },
    "UpgradeRun": {
        "type": "object",
        "required": [
            "id",
            "state",
            "terminal",
            "source_subscription_id",
            "target",
            "progress",
            "order",
            "status_url",
        ],
        "properties": {
            "id": ID,
            "state": {"type": "string", "enum": RUN_STATES},
            "state_label": {"type": "string"},
            "terminal": {"type": "boolean"},
            "source_subscription_id": ID,
            "target": _ref("Product"),
            "new_subscription_id": NULLABLE_ID,
            "progress": {
                "type": "object",
                "required": ["moved", "total", "percent"],
                "properties": {
                    "moved": {"type": "integer", "minimum": 0},
                    "total": {"type": "integer", "minimum": 0},
                    "percent": {"type": "integer", "minimum": 0, "maximum": 100},
                },
            },
            "failed_step": {"type": ["string", "null"]},
            "failure_reason": {"type": ["string", "null"]},
            "placed_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "order": {
                "type": "object",
                "required": ["id", "total", "currency", "payment_method"],
                "properties": {
                    "id": ID,
                    "total": {"type": "string", "description": "Decimal amount."},
                    "currency": {"type": "string"},
                    "payment_method": {"type": "string", "enum": ["card", "invoice"]},
                },
            },
            "status_url": {"type": "string", "description": "The portal's status page."},
            "events": {
                "type": "array",
                "items": _ref("UpgradeEvent"),
                "description": "Every state change, oldest first.",
            },
        },
    },
    "UpgradeRunList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("UpgradeRun")}},
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
    f"{TENANT_PREFIX}/subscriptions/{{subscription_id}}/eligibility": {
        "get": {
            "summary": "Whether the subscription can be upgraded, to what, and why not",
            "tags": ["upgrades"],
            "parameters": [TENANT, _path_id("subscription_id")],
            "responses": {
                "200": _response(
                    "Reasons and targets, as the Upgrade tab shows them.", "Eligibility"
                ),
                **_errors("Forbidden", "Locked"),
            },
        }
    },
    f"{TENANT_PREFIX}/upgrades": {
        "get": {
            "summary": "List upgrade runs, newest first",
            "description": "Readable while the tenant is locked by an upgrade.",
            "tags": ["upgrades"],
            "parameters": [
                TENANT,
                _query("state", {"type": "string", "enum": RUN_STATES}, "Only runs in this state."),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    "How many runs.",
                ),
            ],
            "responses": {
                "200": _response("Runs.", "UpgradeRunList"),
                **_errors("BadRequest", "Forbidden"),
            },
        },
        "post": {
            "summary": "Place an upgrade",
            "description": (
                "Cart, checkout and place order in one request, as on the Upgrade tab: the "
                "pricing is frozen and charged as quoted, and the tenant's admin center is "
                "locked until the run ends. Requires an Idempotency-Key header: sending the "
                "same key and body again returns the first result (with "
                "`Idempotent-Replayed: true`); the same key with a different body is refused "
                "with 409. A request that was refused leaves its key unused."
            ),
            "tags": ["upgrades"],
            "parameters": [
                TENANT,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "description": "A unique key per intended order, e.g. a UUID.",
                    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,100}$"},
                },
            ],
            "requestBody": {"required": True, "content": _json(_ref("UpgradeRequest"))},
            "responses": {
                "201": _response("The upgrade run, just placed (or replayed).", "UpgradeRun"),
                **_errors(
                    "BadRequest", "Forbidden", "Conflict", "TooLarge", "Unprocessable", "Locked"
                ),
            },
        },
    },
    f"{TENANT_PREFIX}/upgrades/{{run_id}}": {
        "get": {
            "summary": "An upgrade run's status: state, progress, failure and timeline",
            "description": "Readable while the tenant is locked by an upgrade.",
            "tags": ["upgrades"],
            "parameters": [TENANT, _path_id("run_id")],
            "responses": {
                "200": _response("The run with its events.", "UpgradeRun"),
                **_errors("Forbidden"),
            },
        }
    },
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
