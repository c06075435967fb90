"""The periodic review pages: who sees them, signing from them, and what they refuse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.identity.models import RoleName
from lims.review.models import AccessReview, TrailReview
from lims.review.service import access
from tests.helpers import PASSWORD, csrf_token_from, duplicate_ids, login


def signed_in_as(app, db_session, user):
    db_session.commit()
    browser = app.test_client()
    assert login(browser, user).status_code == 302
    return browser


def _everyone(db_session):
    return access.users_to_review(db_session)


def access_form(page: str, people, **fields):
    """The access review form as the page lists it: each user's roles as checked, and what it listed."""
    data = [("csrf_token", csrf_token_from(page))]
    for person in people:
        roles = ",".join(sorted(role.value for role in person.role_names))
        data.append((f"listed-{person.id}", roles))
        data += [(f"roles-{person.id}", role.value) for role in person.role_names]
    return MultiDict(data + list(fields.items()))


@pytest.fixture
def manager(create_user):
    return create_user(RoleName.MANAGER)


@pytest.mark.parametrize("role", [RoleName.TECHNICIAN, RoleName.CLIENT])
def test_technicians_and_clients_are_kept_out_of_the_reviews(app, db_session, create_user, role):
    browser = signed_in_as(app, db_session, create_user(role))
    for path in ("/reviews", "/reviews/access", "/reviews/audit-trail"):
        assert browser.get(path).status_code == 403


def test_a_manager_signs_the_access_review_from_its_page(app, db_session, manager, create_user):
    other = create_user(RoleName.QA, RoleName.TECHNICIAN)
    browser = signed_in_as(app, db_session, manager)
    page = browser.get("/reviews/access").text
    assert duplicate_ids(page) == [] and other.username in page and "Sign the access review" in page
    data = access_form(page, _everyone(db_session), password=PASSWORD, comment="Checked with the team leads.")
    data.setlist(f"roles-{other.id}", ["technician"])
    data["change_reason"] = "Releases and performs"
    signed = browser.post("/reviews/access", data=data)
    assert signed.status_code == 303
    record = browser.get(signed.headers["Location"]).text
    assert "Releases and performs" in record and "changed" in record and manager.full_name in record
    db_session.expire_all()
    assert other.role_names == {RoleName.TECHNICIAN}
    assert "1 day" not in browser.get("/reviews").text  # just signed: not due


def test_the_access_review_is_refused_without_the_signature_password(app, db_session, manager):
    browser = signed_in_as(app, db_session, manager)
    page = browser.get("/reviews/access").text
    refused = browser.post("/reviews/access", data=access_form(page, _everyone(db_session)))
    assert refused.status_code == 422 and "Enter your password to sign." in refused.text
    assert db_session.scalar(select(func.count()).select_from(AccessReview)) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([("roles-{id}", "superuser")], "Choose roles from the list."),
        ([("roles-abc", "qa")], "not a user&#39;s id"),
        ([("roles-99999999999", "qa")], "not a user&#39;s id"),
        ([("comment", "ok\x00")], "control character"),
        ([("comment", "x" * 2001)], "Longer than maximum length 2000"),
    ],
)
def test_hostile_access_review_input_is_refused_with_a_message(app, db_session, manager, extra, message):
    browser = signed_in_as(app, db_session, manager)
    page = browser.get("/reviews/access").text
    data = access_form(page, _everyone(db_session), password=PASSWORD)
    for key, value in extra:
        data.add(key.format(id=manager.id), value)
    refused = browser.post("/reviews/access", data=data)
    assert refused.status_code == 422 and message in refused.text
    assert db_session.scalar(select(func.count()).select_from(AccessReview)) == 0


def test_qa_reads_the_access_reviews_but_is_not_offered_the_form(app, db_session, create_user):
    page = signed_in_as(app, db_session, create_user(RoleName.QA)).get("/reviews/access").text
    assert "A manager signs the access review." in page and "Sign the access review" not in page


def test_qa_signs_the_review_of_a_period_from_its_page(app, db_session, create_user):
    browser = signed_in_as(app, db_session, create_user(RoleName.QA))
    page = browser.get("/reviews/audit-trail").text
    yesterday = clock.today() - timedelta(days=1)
    assert "Sign the review of this period" in page and yesterday.isoformat() in page and duplicate_ids(page) == []
    signed = browser.post(
        "/reviews/audit-trail",
        data={
            "csrf_token": csrf_token_from(page),
            "period_start": (yesterday - timedelta(days=29)).isoformat(),
            "period_end": yesterday.isoformat(),
            "comment": "Nothing to report.",
            "password": PASSWORD,
        },
    )
    assert signed.status_code == 303
    record = browser.get(signed.headers["Location"]).text
    assert f"to {yesterday.isoformat()}" in record and "Nothing to report." in record
    assert "Audit-trail review due" not in browser.get("/reviews").text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"period_start": "2026-13-01"}, "Enter a date as YYYY-MM-DD."),
        ({"period_end": ""}, "Enter the last day of the period."),
        ({"comment": ""}, "Say what you found"),
        ({"password": ""}, "Enter your password to sign."),
    ],
)
def test_a_period_review_with_a_field_wrong_is_refused(app, db_session, create_user, fields, message):
    browser = signed_in_as(app, db_session, create_user(RoleName.QA))
    page = browser.get("/reviews/audit-trail").text
    data = {
        "csrf_token": csrf_token_from(page),
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "comment": "Fine.",
        "password": PASSWORD,
        **fields,
    }
    refused = browser.post("/reviews/audit-trail", data=data)
    assert refused.status_code == 422 and message in refused.text
    assert db_session.scalar(select(func.count()).select_from(TrailReview)) == 0


def test_a_list_cursor_the_list_did_not_give_out_is_refused(app, db_session, manager):
    refused = signed_in_as(app, db_session, manager).get("/reviews/access?cursor=not-a-cursor")
    assert refused.status_code == 422 and "cursor" in refused.text
