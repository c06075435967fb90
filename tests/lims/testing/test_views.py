"""Test definitions through the pages: the list for staff, the form for managers and QA."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.identity.models import RoleName
from lims.testing import service
from lims.testing.models import ResultKind, TestDefinition
from lims.units.kinds import ValueKind
from tests.helpers import duplicate_ids, history_link, submit

VIABILITY = {
    "code": "viab",
    "name": "Viability",
    "method": "7-AAD flow cytometry",
    "result_kind": "quantitative",
    "unit": "%",
    "specification": "≥ 70 %",
}


def definitions(db_session) -> list[TestDefinition]:
    db_session.expire_all()
    return list(db_session.scalars(select(TestDefinition)))


def test_qa_defines_a_quantitative_test_and_staff_see_it(app, client, db_session, signed_in):
    signed_in(RoleName.QA)
    form = client.get("/test-definitions/new").text
    assert duplicate_ids(form) == [] and 'for="specification"' in form
    created = submit(client, "/test-definitions/new", VIABILITY)
    assert created.status_code == 303 and created.headers["Location"] == "/test-definitions"
    listing = client.get("/test-definitions").text
    assert "Test VIAB (Viability) is defined" in listing
    assert "VIAB" in listing and "7-AAD flow cytometry" in listing and "≥ 70 %" in listing
    [definition] = definitions(db_session)
    assert definition.result_kind == ResultKind.QUANTITATIVE and definition.unit == "%"


def test_a_qualitative_test_keeps_no_unit(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    created = submit(
        client,
        "/test-definitions/new",
        {
            "code": "STER",
            "name": "Sterility",
            "method": "Ph. Eur. 2.6.27",
            "result_kind": "qualitative",
            "unit": "mL",
            "specification": "No growth",
        },
    )
    assert created.status_code == 303
    [definition] = definitions(db_session)
    assert definition.unit == "" and definition.specification == "No growth"


def test_technicians_read_the_list_but_cannot_define(client, db_session, signed_in):
    service.create_definition(
        db_session,
        code="STER",
        name="Sterility",
        method="Ph. Eur. 2.6.27",
        result_kind=ResultKind.QUALITATIVE,
        unit="",
        specification="No growth",
    )
    signed_in(RoleName.TECHNICIAN)
    listing = client.get("/test-definitions")
    assert listing.status_code == 200 and "Sterility" in listing.text
    assert 'href="/test-definitions/new"' not in listing.text
    assert client.get("/test-definitions/new").status_code == 403
    assert client.post("/test-definitions/new", data=VIABILITY).status_code == 403
    assert len(definitions(db_session)) == 1


def test_clients_cannot_read_the_definitions(client, signed_in):
    signed_in(RoleName.CLIENT)
    assert client.get("/test-definitions").status_code == 403


def test_an_unknown_unit_is_refused_at_the_unit_field(client, db_session, signed_in):
    signed_in(RoleName.QA)
    response = submit(client, "/test-definitions/new", {**VIABILITY, "unit": "zorks"})
    assert response.status_code == 422 and 'id="unit-error"' in response.text and "Unknown unit" in response.text
    assert definitions(db_session) == []


def test_a_specification_that_is_not_a_limit_is_refused(client, db_session, signed_in):
    signed_in(RoleName.QA)
    response = submit(client, "/test-definitions/new", {**VIABILITY, "specification": "good enough"})
    assert response.status_code == 422 and 'id="specification-error"' in response.text
    assert "is not a limit" in response.text
    assert definitions(db_session) == []


def test_a_specification_in_another_kind_of_unit_is_refused(client, db_session, signed_in):
    signed_in(RoleName.QA)
    response = submit(client, "/test-definitions/new", {**VIABILITY, "unit": "cells/mL", "specification": "≥ 5 mL"})
    assert response.status_code == 422 and 'id="specification-error"' in response.text
    assert "not in units compatible with cells/mL" in response.text
    assert definitions(db_session) == []


def test_missing_fields_and_a_duplicate_code_are_refused(client, db_session, signed_in):
    signed_in(RoleName.QA)
    missing = submit(client, "/test-definitions/new", {"code": "VIAB"})
    assert missing.status_code == 422
    for message in (
        "Name the test",
        "Name the method",
        "Choose whether the result is a measured value",
        "State the specification",
    ):
        assert message in missing.text, message
    assert submit(client, "/test-definitions/new", VIABILITY).status_code == 303
    duplicate = submit(client, "/test-definitions/new", VIABILITY)
    assert duplicate.status_code == 409 and "already defined" in duplicate.text
    assert len(definitions(db_session)) == 1


@pytest.mark.parametrize(
    ("role", "sees_history"),
    [(RoleName.QA, True), (RoleName.ADMIN, True), (RoleName.TECHNICIAN, False), (RoleName.MANAGER, False)],
)
def test_each_definition_links_to_its_history_for_those_who_read_the_trail(
    role, sees_history, client, db_session, signed_in
):
    # Definitions have no page of their own: the list is where each is shown.
    definition = service.create_definition(db_session, **{**VIABILITY, "result_kind": ResultKind.QUANTITATIVE})
    db_session.commit()
    signed_in(role)
    listing = client.get("/test-definitions").text
    assert "7-AAD flow cytometry" in listing
    assert (history_link("test_definition", definition.id) in listing) is sees_history
    assert ('aria-label="History of test VIAB"' in listing) is sees_history


def test_the_definer_states_the_kind_of_value_and_a_fraction_in_ml_is_refused(client, db_session, signed_in):
    signed_in(RoleName.QA)
    assert 'id="value_kind"' in client.get("/test-definitions/new").text
    refused = submit(
        client,
        "/test-definitions/new",
        {**VIABILITY, "unit": "mL", "specification": "≥ 1 mL", "value_kind": "fraction of a whole"},
    )
    assert refused.status_code == 422 and 'id="value_kind-error"' in refused.text
    assert definitions(db_session) == []
    created = submit(client, "/test-definitions/new", {**VIABILITY, "value_kind": "fraction of a whole"})
    assert created.status_code == 303
    assert "fraction of a whole" in client.get("/test-definitions").text
    [definition] = definitions(db_session)
    assert definition.value_kind == ValueKind.FRACTION
