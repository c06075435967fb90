"""One error shape for every refusal under /api/: {"code", "message", "errors"}, whatever refused."""

from __future__ import annotations

import pytest
from flask_wtf.csrf import CSRFError

from lims.access import public
from lims.api.paging import BAD_CURSOR
from lims.errors import Conflict
from lims.identity.models import RoleName
from lims.inputs import control_character_message


def assert_error(response, status, errors=None):
    assert response.status_code == status
    assert response.is_json
    assert response.json == {"code": status, "message": response.json["message"], "errors": errors or {}}
    assert response.json["message"].strip()


def test_authentication_refusals_have_the_error_shape(client, clients, signed_in):
    assert_error(client.get("/api/v1/protocols"), 401)
    assert_error(client.get("/api/v1/protocols", headers={"Authorization": "Bearer lims_not-a-token"}), 401)
    assert_error(client.get("/api/v1/equipment", headers=clients.helix_token), 403)
    signed_in(RoleName.CLIENT)
    assert_error(client.get("/api/v1/protocols"), 401)


def test_missing_records_addresses_and_methods_have_the_error_shape(client, clients):
    assert_error(client.get("/api/v1/protocols/4242", headers=clients.helix_token), 404)
    assert_error(client.get("/api/v1/protocols/99999999999", headers=clients.helix_token), 404)
    assert_error(client.get("/api/v1/nothing-here", headers=clients.helix_token), 404)
    assert_error(client.delete("/api/v1/protocols", headers=clients.helix_token), 405)


def test_invalid_arguments_name_each_argument_refused(client, clients):
    response = client.get("/api/v1/batches", query_string={"cursor": "x", "limit": "0"}, headers=clients.helix_token)
    assert_error(
        response,
        422,
        {"cursor": [BAD_CURSOR], "limit": ["Must be greater than or equal to 1 and less than or equal to 200."]},
    )
    assert "arguments are not valid" in response.json["message"]
    status = client.get("/api/v1/batches", query_string={"status": "done"}, headers=clients.helix_token)
    assert_error(
        status,
        422,
        {
            "status": [
                "There is no such batch status; use one of in progress, awaiting review, "
                "quarantined, released, rejected."
            ]
        },
    )


@pytest.mark.parametrize("query", [{"q": "a\x00b"}, {"location": "\x00"}])
def test_text_with_a_nul_character_is_refused_not_a_server_error(client, signed_in, query):
    # PostgreSQL fails any query that compares text with a NUL character.
    signed_in(RoleName.QA)
    (name,) = query
    assert_error(
        client.get("/api/v1/equipment", query_string=query),
        422,
        {name: [control_character_message("\x00")]},
    )


def test_domain_refusals_csrf_and_server_errors_have_the_error_shape(app, client):
    @app.get("/api/v1/test-conflict")
    @public
    def conflict():
        raise Conflict("Someone else changed it first.", field="status")

    @app.post("/api/v1/test-csrf")
    @public
    def expired_form():
        raise CSRFError()

    @app.get("/api/v1/test-crash")
    @public
    def crash():
        raise RuntimeError("a bug")

    assert_error(client.get("/api/v1/test-conflict"), 409)
    assert client.get("/api/v1/test-conflict").json["message"] == "Someone else changed it first."
    assert_error(client.post("/api/v1/test-csrf"), 400)
    assert "expired" in client.post("/api/v1/test-csrf").json["message"]
    assert_error(client.get("/api/v1/test-crash"), 500)


def test_web_pages_keep_their_html_error_pages(client, signed_in):
    signed_in(RoleName.QA)
    response = client.get("/protocols/4242")
    assert response.status_code == 404 and response.mimetype == "text/html"
