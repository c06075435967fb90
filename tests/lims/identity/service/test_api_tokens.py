"""API tokens: shown once and stored as a hash, revoked at once, managed only by their organization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from lims import clock
from lims.identity.errors import ClientOrganizationRequired, NotYourOrganization, TokenRevoked
from lims.identity.models import ApiToken, RoleName
from lims.identity.service import api_tokens, users

# After any real creation time, so users made before freezing predate every attempt.
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def test_api_token_is_shown_once_and_stored_only_as_a_hash(db_session, connection, create_user, create_organization):
    organization = create_organization()
    admin = create_user(RoleName.ADMIN)
    token, presented = api_tokens.issue_api_token(
        db_session, organization=organization, name="manifest uploader", actor=admin
    )
    secret = presented.split("_", 2)[2]  # the secret itself may contain underscores
    stored_rows = connection.execute(text("SELECT * FROM api_token")).all()
    assert stored_rows, "the token row was written"
    for row in stored_rows:
        assert all(secret not in str(value) and presented not in str(value) for value in row)
    assert api_tokens.authenticate_api_token(db_session, presented) is token


def test_api_token_records_its_last_use(db_session, create_user, create_organization):
    clock.freeze(START)
    admin = create_user(RoleName.ADMIN)
    token, presented = api_tokens.issue_api_token(
        db_session, organization=create_organization(), name="lims sync", actor=admin
    )
    assert token.last_used_at is None
    clock.advance(timedelta(hours=2))
    api_tokens.authenticate_api_token(db_session, presented)
    assert token.last_used_at == START + timedelta(hours=2)


def test_revoked_or_tampered_tokens_authenticate_nothing(db_session, create_user, create_organization):
    admin = create_user(RoleName.ADMIN)
    token, presented = api_tokens.issue_api_token(
        db_session, organization=create_organization(), name="sync", actor=admin
    )
    tampered = presented[:-1] + ("A" if presented[-1] != "A" else "B")
    assert api_tokens.authenticate_api_token(db_session, tampered) is None
    assert api_tokens.authenticate_api_token(db_session, "Bearer nonsense") is None
    api_tokens.revoke_api_token(db_session, token, actor=admin)
    assert api_tokens.authenticate_api_token(db_session, presented) is None
    with pytest.raises(TokenRevoked):
        api_tokens.revoke_api_token(db_session, token, actor=admin)


def test_tokens_are_issued_to_client_organizations_only(db_session, facility, create_user):
    admin = create_user(RoleName.ADMIN)
    with pytest.raises(ClientOrganizationRequired):
        api_tokens.issue_api_token(db_session, organization=facility, name="x", actor=admin)


def test_a_client_user_manages_only_their_own_organizations_tokens(db_session, create_user, create_organization):
    own, other = create_organization(), create_organization()
    client_user = create_user(RoleName.CLIENT, organization=own)
    api_tokens.issue_api_token(db_session, organization=own, name="ours", actor=client_user)
    with pytest.raises(NotYourOrganization):
        api_tokens.issue_api_token(db_session, organization=other, name="theirs", actor=client_user)


def test_deactivating_a_client_user_revokes_the_tokens_they_issued(db_session, create_user, create_organization):
    organization = create_organization()
    client_user = create_user(RoleName.CLIENT, organization=organization)
    token, presented = api_tokens.issue_api_token(
        db_session, organization=organization, name="theirs", actor=client_user
    )
    users.deactivate_user(db_session, client_user, reason="Left Helix", actor=None)
    assert token.is_revoked
    assert api_tokens.authenticate_api_token(db_session, presented) is None
    assert db_session.scalar(select(ApiToken).where(ApiToken.id == token.id)).revoked_by_id == client_user.id
