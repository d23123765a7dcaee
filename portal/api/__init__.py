"""The versioned JSON API (/api/v1/): bearer-token authentication per admin membership, the same
roles and tenant scoping as the pages, JSON errors with a code and a message, and an OpenAPI
document. The endpoint functions live in each app's api.py; this package holds what they share."""
