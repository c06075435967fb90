"""API tokens at the JSON API: own organization only, refused once revoked."""

from __future__ import annotations

from lims.identity.models import RoleName
from lims.identity.service import api_tokens, organizations


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_acts_for_its_own_organization(client, create_user, create_organization, db_session):
    helix = create_organization(code="HELIX", name="Helix Cell Therapeutics")
    create_organization(code="NORD", name="Nordic CAR Bio")
    admin = create_user(RoleName.ADMIN)
    _, presented = api_tokens.issue_api_token(db_session, organization=helix, name="uploader", actor=admin)
    db_session.commit()
    response = client.get("/api/v1/me", headers=bearer(presented))
    assert response.status_code == 200
    assert response.json["organization"] == {"id": helix.id, "code": "HELIX", "name": "Helix Cell Therapeutics"}
    assert response.json["token"]["name"] == "uploader"


def test_revoked_token_is_refused(client, create_user, create_organization, db_session):
    admin = create_user(RoleName.ADMIN)
    token, presented = api_tokens.issue_api_token(db_session, organization=create_organization(), name="x", actor=admin)
    db_session.commit()
    assert client.get("/api/v1/me", headers=bearer(presented)).status_code == 200
    api_tokens.revoke_api_token(db_session, token, actor=admin)
    db_session.commit()
    response = client.get("/api/v1/me", headers=bearer(presented))
    assert response.status_code == 401
    assert response.json == {"code": 401, "message": "The API token is unknown or has been revoked.", "errors": {}}


def test_token_of_a_deactivated_organization_is_refused(client, create_user, create_organization, db_session):
    organization = create_organization()
    admin = create_user(RoleName.ADMIN)
    _, presented = api_tokens.issue_api_token(db_session, organization=organization, name="x", actor=admin)
    organizations.update_organization(
        db_session, organization, name=organization.name, active=False, reason="Contract ended"
    )
    db_session.commit()
    assert client.get("/api/v1/me", headers=bearer(presented)).status_code == 401


def test_missing_or_malformed_authorization_gets_401_with_how_to(client):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert "Authorization: Bearer" in response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_browser_session_does_not_open_the_api(client, signed_in):
    signed_in(RoleName.CLIENT)
    assert client.get("/api/v1/me").status_code == 401


def test_unknown_api_address_answers_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json["code"] == 404 and response.json["message"]
