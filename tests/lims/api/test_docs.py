"""The API describes itself: an OpenAPI document of every operation, and a docs page served from this site."""

from __future__ import annotations

import re

import pytest

API_ROUTE = re.compile(r"^/api/v1/")


@pytest.fixture
def description(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def test_the_description_is_openapi_3_with_both_ways_to_authenticate(description):
    assert description["openapi"].startswith("3.")
    assert description["info"]["title"] == "GMP LIMS" and description["info"]["version"] == "1.0"
    schemes = description["components"]["securitySchemes"]
    assert schemes["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["apiToken"]["description"],
    }
    assert (schemes["staffSession"]["type"], schemes["staffSession"]["in"], schemes["staffSession"]["name"]) == (
        "apiKey",
        "cookie",
        "lims_session",
    )


def test_every_api_route_is_described_with_its_security_and_responses(app, description):
    served = {
        re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if API_ROUTE.match(rule.rule) and not rule.endpoint.startswith("api_docs.")
    }
    assert served == set(description["paths"])
    for path, operations in description["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation["security"], (method, path)
            responses = operation["responses"]
            # A record created answers 201 with it.
            content = (responses.get("200") or responses["201"])["content"]
            if "application/pdf" in content:  # a file as issued (a certificate), not a record
                assert content["application/pdf"]["schema"] == {"type": "string", "format": "binary"}, (method, path)
            else:
                assert content["application/json"]["schema"]["$ref"], (method, path)
            assert responses["401"] == {"$ref": "#/components/responses/UNAUTHORIZED"}, (method, path)
            assert "default" in responses, (method, path)


def test_operations_name_the_ways_their_callers_authenticate(description):
    paths = description["paths"]
    assert paths["/api/v1/me"]["get"]["security"] == [{"apiToken": []}]
    assert paths["/api/v1/equipment"]["get"]["security"] == [{"staffSession": []}]
    assert "403" in paths["/api/v1/equipment"]["get"]["responses"]
    assert paths["/api/v1/batches"]["get"]["security"] == [{"apiToken": []}, {"staffSession": []}]


def test_every_error_response_has_the_one_error_shape(description):
    error = description["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "errors"}
    for name in ("UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "UNPROCESSABLE_ENTITY", "DEFAULT_ERROR"):
        response = description["components"]["responses"][name]
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_every_list_has_the_one_page_shape(description):
    pages = {name: schema for name, schema in description["components"]["schemas"].items() if name.endswith("Page")}
    assert set(pages) == {
        "EquipmentPage",
        "ProtocolPage",
        "BatchPage",
        "CertificatePage",
        "SubmissionPage",
        "SamplePage",
        "WebhookPage",
        "DeliveryPage",
        "NotificationPage",
        "FindingPage",
        "StorageUnitPage",
        "CustodyEventPage",
    }
    for schema in pages.values():
        assert set(schema["properties"]) == {"items", "next_cursor"}
        assert schema["properties"]["next_cursor"]["nullable"] is True


def test_the_docs_page_loads_only_this_sites_scripts_and_styles(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    assert "<script>" not in page.text and "<style" not in page.text and " style=" not in page.text
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source
            assert asset.mimetype in {"text/css", "text/javascript", "application/json"}, source


def test_the_docs_page_serves_no_other_file_of_the_swagger_package(client):
    with client.get("/api/v1/docs/swagger-ui.css") as style:
        assert style.status_code == 200
    for name in ("index.html", "swagger-ui-bundle.js.map", "..%2F__init__.py"):
        assert client.get(f"/api/v1/docs/{name}").status_code == 404
