"""The contract: the served OpenAPI 3.1 document is valid, covers every MCP tool with exactly
one operation and nothing MCP forbids, and the reference page renders it without a CDN."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from deskwoot.mcp import registry
from deskwoot.rest.problems import CATALOGUE
from deskwoot.rest.routes import ROUTES


def test_the_served_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_one_operation_per_tool_and_nothing_else(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert sorted(op["x-mcp-tool"] for op in operations) == sorted(registry.REGISTRY)
    assert len(operations) == len(ROUTES) == 21
    assert len({op["operationId"] for op in operations}) == 21
    assert not [
        op for op in operations if op.get("requestBody") and "delete" in op["operationId"].lower()
    ]
    assert not {"delete"} & {m for path in document["paths"].values() for m in path}


def test_schemas_are_the_tools_own(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    for route in ROUTES:
        spec = registry.get(route.tool)
        name = route.operation_id[0].upper() + route.operation_id[1:]
        assert schemas[name + "Result"] == spec.output_schema
        if route.takes_body:
            body = schemas[name + "Request"]["properties"]
            assert all(body[n] == spec.input_schema["properties"][n] for n in body)


def test_every_problem_type_resolves_to_the_reference(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for code in CATALOGUE:
        assert f'id="problem-{code}"' in html
    for route in ROUTES:
        assert f'id="op-{route.operation_id}"' in html
    for section in ("authentication", "errors", "pagination", "idempotency", "rate-limits"):
        assert f'id="{section}"' in html


def test_the_reference_page_loads_nothing_from_elsewhere(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert sources
    external = [s for s in sources if s.startswith(("http:", "https:", "//"))]
    # Only plain links a reader may follow (the RFC); no script, style or font from a CDN.
    assert external == ["https://www.rfc-editor.org/rfc/rfc9457"]
    assert '<script src="/static/app.js"' in html or "/static/app.js" in html
    assert "<style" not in html


def test_contract_needs_no_token(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200
