"""The management API (/api/v1 on the operators' listener): one module per area, each a Part (engine/api/console.py)
whose handlers check the user's role (engine/api/access.py) and register their operations in the OpenAPI
document (openapi.py)."""
