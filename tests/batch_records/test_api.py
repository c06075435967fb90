"""The batches API: a client token reads only the batches of its own protocols; staff read all; the rest is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from batch_records import cart_designs
from batch_records.models import DeviationCategory, DonorType
from batch_records.service import batches, deviations, masters, release
from lims.identity.models import RoleName
from lims.identity.service import api_tokens
from lims.signatures.models import SignatureMeaning
from lims.versioning import service as versioning
from protocols.models import ReferenceEvent
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_execution import (
    do_receipt,
    execute_all_steps,
    pass_release_tests,
    release_batch,
    sign,
)
from tests.helpers import PASSWORD, counted_statements, login


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def other_batch(db_session, line, create_organization):
    """A batch made on the same line for another sponsor's subject."""
    sponsor = create_organization(code="NORD", name="Nordic CAR Bio")
    protocol = protocol_service.create_protocol(
        db_session,
        number="NCB-201",
        title="NCB-7 in r/r ALL",
        sponsor=sponsor,
        phase=protocol_service.parse_phase("Phase 3"),
        therapeutic_area="Haematology",
        investigational_product="NCB-7",
    )
    design = protocol.versions[0]
    arm = design_service.add_arm(db_session, design, code="A", name="NCB-7")
    design_service.add_visit(
        db_session,
        design,
        code="APH",
        name="Apheresis",
        reference_event=ReferenceEvent.APHERESIS,
        day_offset=0,
    )
    signatures_of_design = ((SignatureMeaning.AUTHORED, line.author), (SignatureMeaning.APPROVED, line.qa))
    for meaning, user in signatures_of_design:
        sign(db_session, design, meaning, user)
    versioning.make_effective(db_session, design)
    subject = subjects_service.enrol_subject(
        db_session,
        protocol,
        code="NCB201-SE01-0001",
        site="SE-01",
        arm=arm,
        enrolled_on=TODAY - timedelta(days=5),
        consent_version="1.0",
    )
    return batches.start_batch(
        db_session, line.version, subject=subject, starting_material_identity="W9999 26 000001 B", user=line.operator
    )


@pytest.fixture
def tokens(db_session, line, other_batch, create_user):
    """A token of the line's sponsor (Helix) and one of the other batch's sponsor."""
    admin = create_user(RoleName.ADMIN)
    _, helix = api_tokens.issue_api_token(
        db_session, organization=line.subject.protocol.sponsor, name="helix", actor=admin
    )
    _, nordic = api_tokens.issue_api_token(
        db_session, organization=other_batch.subject.protocol.sponsor, name="nordic", actor=admin
    )
    return bearer(helix), bearer(nordic)


def test_a_client_token_lists_only_the_batches_of_its_own_protocols(client, db_session, batch, other_batch, tokens):
    db_session.commit()
    helix, nordic = tokens
    listed = client.get("/api/v1/batches", headers=helix)
    assert listed.status_code == 200
    assert [item["batch_number"] for item in listed.json["items"]] == [batch.batch_number]
    assert listed.json["items"][0]["chain_of_identity"] == {
        "subject": "HLX301-DE01-0001",
        "protocol": "HLX-301",
        "starting_material": "W1234 26 123456 7",
    }
    assert listed.json["next_cursor"] is None
    assert [item["batch_number"] for item in client.get("/api/v1/batches", headers=nordic).json["items"]] == [
        other_batch.batch_number
    ]


def test_the_batch_shows_its_chain_of_identity_steps_tests_and_deviations(app, client, db_session, line, batch, tokens):
    do_receipt(db_session, batch, line)
    deviations.raise_deviation(
        db_session,
        batch,
        description="Bag label smudged",
        user=line.operator,
        category=DeviationCategory.MINOR,
        step=batch.steps[0],
    )
    db_session.commit()
    helix, _ = tokens

    response = client.get(f"/api/v1/batches/{batch.id}", headers=helix)
    assert response.status_code == 200
    shown = response.json
    assert shown["batch_number"] == batch.batch_number and shown["mbr"] == "CART-001 v1"
    assert shown["product"] == "HLX-19 autologous anti-CD19 CAR-T" and shown["status"] == "in progress"
    assert shown["chain_of_identity"] == {
        "subject": "HLX301-DE01-0001",
        "protocol": "HLX-301",
        "starting_material": "W1234 26 123456 7",
    }
    receipt, selection = shown["steps"][:2]
    assert receipt["status"] == "completed" and receipt["performed_by"] == "Tran Nguyen"
    assert receipt["completed_at"].startswith(TODAY.isoformat())
    assert receipt["entries"] == [
        {"parameter": "Volume", "value": "180", "unit": "mL", "within_limits": True, "corrected": False},
        {
            "parameter": "Temperature on receipt",
            "value": "4.5",
            "unit": "°C",
            "within_limits": True,
            "corrected": False,
        },
    ]
    assert selection["status"] == "pending" and selection["performed_by"] is None and selection["entries"] == []
    # The batch is not disposed of by QA: its sponsor sees the tests it needs, not its deviations.
    assert shown["release_tests"] == [
        {
            "test": "Viability",
            "specification": "≥ 70 %",
            "result": None,
            "conforms": None,
            "instrument": None,
            "verified": False,
        },
        {
            "test": "Sterility",
            "specification": "No growth",
            "result": None,
            "conforms": None,
            "instrument": None,
            "verified": False,
        },
    ]
    assert shown["deviations"] == [] and shown["results_withheld"] is True

    qa = app.test_client()
    login(qa, line.qa)
    staff = qa.get(f"/api/v1/batches/{batch.id}").json
    assert [(d["category"], d["status"]) for d in staff["deviations"]] == [("minor", "open")]
    assert staff["deviations"][0]["number"].startswith("DEV-") and staff["results_withheld"] is False


@pytest.mark.parametrize(
    ("donor_type", "product"),
    [
        (DonorType.AUTOLOGOUS, "HLX-19 autologous anti-CD19 CAR-T"),
        (DonorType.ALLOGENEIC, "HLX-40 allogeneic anti-CD19 CAR-NK"),
    ],
)
def test_a_client_reads_whether_its_batchs_product_is_autologous_or_allogeneic(
    app, client, db_session, make_line, create_user, donor_type, product
):
    line = make_line(replace(cart_designs.COMPACT, product=product, donor_type=donor_type))
    made = batches.start_batch(
        db_session,
        line.version,
        subject=line.subject,
        starting_material_identity="W1234 26 123456 7",
        user=line.operator,
    )
    _, token = api_tokens.issue_api_token(
        db_session, organization=line.subject.protocol.sponsor, name="helix", actor=create_user(RoleName.ADMIN)
    )
    db_session.commit()
    helix = bearer(token)
    listed = client.get("/api/v1/batches", headers=helix).json["items"]
    of_subject = client.get(f"/api/v1/subjects/{line.subject.id}/batches", headers=helix).json["items"]
    shown = client.get(f"/api/v1/batches/{made.id}", headers=helix).json
    assert [(item["batch_number"], item["donor_type"]) for item in listed] == [(made.batch_number, donor_type.value)]
    assert [item["donor_type"] for item in of_subject] == [shown["donor_type"]] == [donor_type.value]
    # The description tells a client system what to expect.
    described = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Batch"]["properties"]["donor_type"]
    assert described["enum"] == ["autologous", "allogeneic"] and "autologous" in described["description"]


def test_the_batch_lists_read_the_product_types_without_a_statement_a_batch(client, db_session, line, batch, tokens):
    helix, _ = tokens
    db_session.commit()

    def cost(url: str) -> int:
        assert client.get(url, headers=helix).status_code == 200
        with counted_statements(db_session.get_bind()) as traffic:
            items = client.get(url, headers=helix).json["items"]
        assert {item["donor_type"] for item in items} == {"autologous"}
        return len(traffic.statements)

    urls = ("/api/v1/batches", f"/api/v1/subjects/{line.subject.id}/batches")
    for_one = [cost(url) for url in urls]
    # Each batch made to a version of its own: the version read for one batch is not there for the next.
    for number, starting_material in enumerate(("W1234 26 123457 5", "W1234 26 999999 1"), start=2):
        version = masters.new_mbr_version(db_session, line.version.master, change_summary=f"Version {number}")
        sign(db_session, version, SignatureMeaning.AUTHORED, line.author)
        sign(db_session, version, SignatureMeaning.APPROVED, line.qa)
        versioning.make_effective(db_session, version)
        batches.start_batch(
            db_session, version, subject=line.subject, starting_material_identity=starting_material, user=line.operator
        )
    db_session.commit()
    assert [cost(url) for url in urls] == for_one


def test_a_client_sees_results_and_deviations_only_once_qa_has_rejected_the_batch(
    app, client, db_session, line, batch, tokens
):
    execute_all_steps(db_session, batch, line)
    viability, sterility = batch.release_tests
    release.record_release_result(db_session, viability, "62", user=line.operator)
    sterility_result = release.record_release_result(db_session, sterility, "No growth", user=line.operator)
    sign(db_session, sterility_result, SignatureMeaning.VERIFIED, line.second_operator)
    (deviation,) = batch.deviations
    db_session.commit()
    helix, _ = tokens
    qa = app.test_client()
    login(qa, line.qa)
    staff = qa.get(f"/api/v1/batches/{batch.id}").json
    assert staff["release_tests"][0]["result"] == "62 %" and staff["deviations"][0]["number"] == deviation.number

    def seen() -> dict:
        response = client.get(f"/api/v1/batches/{batch.id}", headers=helix)
        assert response.status_code == 200
        return response.json

    before = client.get(f"/api/v1/batches/{batch.id}", headers=helix)
    assert before.json["release_tests"][0]["result"] is None and before.json["deviations"] == []
    assert deviation.number not in before.text and "62" not in before.text
    release.dispose(
        db_session, batch, SignatureMeaning.QUARANTINED, user=line.qa, password=PASSWORD, reason="OOS viability"
    )
    db_session.commit()
    assert seen()["status"] == "quarantined" and seen()["results_withheld"] is True
    assert seen()["release_tests"][1]["result"] is None
    release.dispose(
        db_session, batch, SignatureMeaning.REJECTED, user=line.qa, password=PASSWORD, reason="OOS viability"
    )
    db_session.commit()
    shown = seen()
    assert shown["status"] == "rejected" and shown["results_withheld"] is False
    assert shown["release_tests"][0] == {
        "test": "Viability",
        "specification": "≥ 70 %",
        "result": "62 %",
        "conforms": False,
        "instrument": None,
        "verified": False,
    }
    assert [item["number"] for item in shown["deviations"]] == [deviation.number]


def test_a_client_sees_the_results_of_a_released_batch(client, db_session, line, batch, tokens):
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    release_batch(db_session, batch, line)
    db_session.commit()
    helix, _ = tokens
    shown = client.get(f"/api/v1/batches/{batch.id}", headers=helix).json
    assert shown["status"] == "released" and shown["results_withheld"] is False
    assert [(test["result"], test["verified"]) for test in shown["release_tests"]] == [
        ("91.5 %", True),
        ("No growth", True),
    ]


def test_another_clients_batch_is_answered_as_missing(client, db_session, batch, other_batch, tokens):
    db_session.commit()
    _, nordic = tokens
    foreign = client.get(f"/api/v1/batches/{batch.id}", headers=nordic)
    missing_id = other_batch.id + 1000
    missing = client.get(f"/api/v1/batches/{missing_id}", headers=nordic)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == {"code": 404, "message": f"There is no batch with id {batch.id}.", "errors": {}}
    assert missing.json == {"code": 404, "message": f"There is no batch with id {missing_id}.", "errors": {}}
    assert client.get(f"/api/v1/batches/{other_batch.id}", headers=nordic).status_code == 200


def test_a_subject_shows_its_batches_to_its_sponsor_only(client, db_session, line, batch, tokens):
    second = batches.start_batch(
        db_session,
        line.version,
        subject=line.subject,
        starting_material_identity="W1234 26 123457 5",
        user=line.operator,
    )
    db_session.commit()
    helix, nordic = tokens
    subject = client.get(f"/api/v1/subjects/{line.subject.id}", headers=helix)
    assert subject.status_code == 200
    assert subject.json == {"id": line.subject.id, "code": "HLX301-DE01-0001", "protocol": "HLX-301", "site": "DE-01"}
    response = client.get(f"/api/v1/subjects/{line.subject.id}/batches", headers=helix)
    assert response.status_code == 200
    # Oldest first: the chain of identity read from the subject's side.
    assert [
        (item["batch_number"], item["chain_of_identity"]["starting_material"]) for item in response.json["items"]
    ] == [(batch.batch_number, "W1234 26 123456 7"), (second.batch_number, "W1234 26 123457 5")]
    assert response.json["next_cursor"] is None
    assert client.get(f"/api/v1/subjects/{line.subjects[1].id}/batches", headers=helix).json["items"] == []

    for url in (f"/api/v1/subjects/{line.subject.id}", f"/api/v1/subjects/{line.subject.id}/batches"):
        foreign = client.get(url, headers=nordic)
        assert foreign.status_code == 404
        assert foreign.json == {"code": 404, "message": f"There is no subject with id {line.subject.id}.", "errors": {}}
    assert client.get("/api/v1/subjects/999999/batches", headers=nordic).json["message"] == (
        "There is no subject with id 999999."
    )


def test_staff_read_every_batch_from_a_signed_in_session(client, db_session, line, batch, other_batch, signed_in):
    db_session.commit()
    signed_in(RoleName.QA)
    listed = client.get("/api/v1/batches")
    assert listed.status_code == 200
    assert {item["batch_number"] for item in listed.json["items"]} == {batch.batch_number, other_batch.batch_number}
    assert client.get(f"/api/v1/batches/{other_batch.id}").json["chain_of_identity"]["protocol"] == "NCB-201"
    assert client.get(f"/api/v1/subjects/{line.subject.id}/batches").status_code == 200


def test_anonymous_callers_and_client_sessions_are_refused(client, db_session, line, batch, signed_in):
    db_session.commit()
    urls = ("/api/v1/batches", f"/api/v1/batches/{batch.id}", f"/api/v1/subjects/{line.subject.id}/batches")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 401, url
        assert "Authorization: Bearer" in response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get(url, headers=bearer("lims_not-a-real-token")).status_code == 401
    signed_in(RoleName.CLIENT)
    for url in urls:
        # A browser session opens the API to staff only.
        assert client.get(url).status_code == 401, url


def test_a_write_to_the_api_is_not_allowed(client, db_session, batch, tokens):
    db_session.commit()
    helix, _ = tokens
    assert client.post("/api/v1/batches", headers=helix).status_code == 405
    assert client.delete(f"/api/v1/batches/{batch.id}", headers=helix).status_code == 405


def test_the_list_filters_by_status_and_goes_on_page_by_page(client, db_session, line, batch, tokens):
    second = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 999999 1",
        user=line.operator,
    )
    db_session.commit()
    helix, _ = tokens
    first_page = client.get("/api/v1/batches?limit=1", headers=helix).json
    assert first_page["next_cursor"]
    second_page = client.get(
        "/api/v1/batches", query_string={"limit": 1, "cursor": first_page["next_cursor"]}, headers=helix
    ).json
    assert second_page["next_cursor"] is None
    # Newest first.
    assert [first_page["items"][0]["batch_number"], second_page["items"][0]["batch_number"]] == [
        second.batch_number,
        batch.batch_number,
    ]

    in_progress = client.get("/api/v1/batches", query_string={"status": "in progress"}, headers=helix).json
    assert len(in_progress["items"]) == 2
    assert client.get("/api/v1/batches?status=released", headers=helix).json["items"] == []


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"status": "done"}, "status", "There is no such batch status"),
        ({"status": "IN_PROGRESS"}, "status", "There is no such batch status"),
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "201"}, "limit", "less than or equal to 200"),
        ({"limit": "two"}, "limit", "Not a valid integer."),
        ({"cursor": "not-a-cursor"}, "cursor", "This cursor is not one this list gave out"),
    ],
)
def test_bad_query_arguments_are_refused_with_a_message(client, db_session, batch, tokens, query, field, message):
    db_session.commit()
    helix, _ = tokens
    response = client.get("/api/v1/batches", query_string=query, headers=helix)
    assert response.status_code == 422
    assert response.json["code"] == 422 and "arguments are not valid" in response.json["message"]
    assert list(response.json["errors"]) == [field] and message in response.json["errors"][field][0]
