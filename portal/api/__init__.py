"""The versioned JSON API (/api/v1/), what every app's endpoints share: bearer-token
authentication per admin membership with the same roles and tenant scoping as the pages
(auth.py), JSON errors with a code and a message (errors.py), strict input types (fields.py);
and the admin center's API tokens page. Each app's endpoints are a ninja Router in its api.py;
config/api.py mounts them and serves the generated OpenAPI document."""
