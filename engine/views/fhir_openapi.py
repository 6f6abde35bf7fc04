"""An OpenAPI 3 description of the FHIR API, derived from its CapabilityStatement: one path per interaction the
statement lists, one query parameter per search parameter it declares, the answers a client can get.

It is what schemathesis fuzzes (tests/fhir_api/test_fuzz_api.py) and what an API gateway or a client generator
reads; being derived, it cannot promise more than the statement does. Operations (``$…``) are not in it yet.
"""

from __future__ import annotations

from typing import Any

_ID = {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,64}$"}
_DATE = {
    "type": "string",
    "pattern": r"^(eq|gt|ge|lt|le)?[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?)?)?$",
}
_TEXT = {"type": "string"}  # token, string, reference, and any other type: the server reads the text
_PARAMETER_SCHEMAS = {"number": {"type": "integer", "minimum": 0}, "date": _DATE}
_FHIR_JSON = "application/fhir+json"
_REFUSALS = {
    "400": "a parameter the server does not take, or a value it cannot read",
    "401": "no valid bearer token",
    "403": "the token's scopes do not cover the type",
    "404": "no such resource, version or endpoint",
}


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {_FHIR_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _operation(summary: str, ok: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": _answer(ok, "Resource"),
                **{s: _answer(d, "OperationOutcome") for s, d in _REFUSALS.items()},
            },
        }
    }


def _path_parameter(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def openapi(statement: dict[str, Any], max_count: int) -> dict[str, Any]:
    """The OpenAPI 3.0 document of what ``statement`` (a CapabilityStatement) lists, paths relative to its base;
    ``max_count`` the largest page (``_count``) a search answers."""
    schemas = {**_PARAMETER_SCHEMAS, "_count": {"type": "integer", "minimum": 0, "maximum": max_count}}
    paths: dict[str, Any] = {
        "/metadata": {
            "get": {
                "summary": "the CapabilityStatement",
                "security": [],
                "responses": {"200": _answer("what this server serves", "Resource")},
            }
        }
    }
    for rest in statement.get("rest", []):
        for resource in rest.get("resource", []):
            kind = resource["type"]
            codes = {i["code"] for i in resource.get("interaction", [])}
            ident = _path_parameter("id", _ID)
            if "search-type" in codes:
                query = [
                    {
                        "name": p["name"],
                        "in": "query",
                        "required": False,
                        "schema": schemas.get(p["name"]) or schemas.get(p["type"], _TEXT),
                    }
                    for p in resource.get("searchParam", [])
                ]
                paths[f"/{kind}"] = _operation(f"search {kind}", "a searchset Bundle", query)
            if "read" in codes:
                paths[f"/{kind}/{{id}}"] = _operation(f"read a {kind}", f"the {kind}", [ident])
            if "history-instance" in codes:
                paths[f"/{kind}/{{id}}/_history"] = _operation(f"a {kind}'s versions", "a history Bundle", [ident])
            if "vread" in codes:
                version = _path_parameter("vid", {"type": "string", "pattern": "^[0-9]{1,9}$"})
                paths[f"/{kind}/{{id}}/_history/{{vid}}"] = _operation(
                    f"one version of a {kind}", f"that version of the {kind}", [ident, version]
                )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Huitong FHIR R4 API",
            "version": statement.get("fhirVersion", "4.0.1"),
            "description": "derived from the CapabilityStatement at /metadata",
        },
        "servers": [{"url": statement.get("implementation", {}).get("url", "/fhir")}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Resource": {
                    "type": "object",
                    "required": ["resourceType"],
                    "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}},
                },
                "OperationOutcome": {
                    "type": "object",
                    "required": ["resourceType", "issue"],
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                        "issue": {"type": "array", "minItems": 1},
                    },
                },
            },
        },
    }
