"""The management API on the operators' listener (/api/v1, docs/console.md): one Part per area, each adding its
routes and its entries of the OpenAPI document (openapi.py)."""
