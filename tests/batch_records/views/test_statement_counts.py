"""A batch's pages (the batch, a step, QA's review) send as many statements for a batch of twelve steps with six
release tests, their entries and signatures, as for one of two steps with one test."""

from __future__ import annotations

from dataclasses import replace

import pytest

from batch_records import cart_designs, cart_line
from batch_records.models import Batch, BatchStep
from batch_records.service import batches, execution, release
from lims import clock
from lims.identifiers import IdentifierRule
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind
from lims.training import service as training
from lims.units.kinds import ValueKind
from tests.batch_records.conftest import Line
from tests.batch_records.test_batch_views import signed_in_as
from tests.helpers import PASSWORD, counted_statements

#: what each kind of parameter of a uniform design is given
VALUES = {"mL": "180", "°C": "4.5 °C", "cells/mL": "2.4 ×10^6 cells/mL"}
#: six release tests: the line's two and four more alike
EXTRA_TESTS = ("CD3", "TRANS", "VCN", "POT")
OWN_NUMBERING = IdentifierRule(r"SM\d+")


@pytest.fixture
def definitions(db_session, line: Line) -> dict:
    """The line's release tests and four more alike, the analysts trained on each."""
    found = {test.definition.code: test.definition for test in line.version.release_tests}
    for code in EXTRA_TESTS:
        found[code] = testing.create_definition(
            db_session,
            code=code,
            name=f"Test {code}",
            method=f"Method {code}",
            result_kind=ResultKind.QUANTITATIVE,
            unit="%",
            specification="≥ 70 %",
            value_kind=ValueKind.FRACTION,
        )
        for analyst in (line.operator, line.second_operator, line.qa):
            training.record_training(
                db_session,
                user=analyst,
                subject=found[code].training_subject,
                trained_on=clock.today(),
                expires_on=None,
                recorded_by=line.author,
            )
    return found


def _crew(line: Line) -> cart_line.Crew:
    return cart_line.Crew(
        author=line.author, qa=line.qa, operators=(line.operator, line.second_operator), password=PASSWORD
    )


def _execute(session, line: Line, step: BatchStep) -> None:
    for equipment_type in step.equipment_types:
        equipment = line.cabinet if equipment_type == line.cabinet.equipment_type else line.centrifuge
        execution.record_equipment_use(session, step, equipment, user=line.operator, due_soon_days=14)
    for requirement in step.materials:
        execution.record_material_use(
            session, step, requirement, line.medium_lot, requirement.quantity, user=line.operator
        )
    if step.parameters:
        execution.record_entries(
            session, step, {parameter.id: VALUES[parameter.unit] for parameter in step.parameters}, user=line.operator
        )
    signatures.sign(session, step, meaning=SignatureMeaning.PERFORMED, user=line.operator, password=PASSWORD)
    signatures.sign(session, step, meaning=SignatureMeaning.VERIFIED, user=line.second_operator, password=PASSWORD)


def made_batch(session, line: Line, definitions: dict, *, steps: int, parameters: int, tests: tuple[str, ...]) -> Batch:
    """A batch of a uniform design, every step done and signed by two, every release result recorded and verified."""
    code = f"U{steps}"
    design = replace(cart_designs.uniform_design(code, steps=steps, parameters=parameters), release_tests=tests)
    version = cart_line.build_master(
        session, _crew(line), design, materials={line.medium.part_number: line.medium}, definitions=definitions
    )
    batch = batches.start_batch(
        session,
        version,
        subject=line.subject,
        starting_material_identity=f"SM{steps:06d}",
        user=line.operator,
        identity_rule=OWN_NUMBERING,
    )
    for step in batch.steps:
        _execute(session, line, step)
    for release_test in batch.release_tests:
        reported = "No growth" if release_test.definition.result_kind == ResultKind.QUALITATIVE else "91.5"
        result = release.record_release_result(session, release_test, reported, user=line.operator)
        signatures.sign(
            session, result, meaning=SignatureMeaning.VERIFIED, user=line.second_operator, password=PASSWORD
        )
    return batch


@pytest.fixture
def small_and_large(db_session, line: Line, definitions: dict) -> tuple[Batch, Batch]:
    small = made_batch(db_session, line, definitions, steps=4, parameters=1, tests=("VIAB",))
    large = made_batch(db_session, line, definitions, steps=12, parameters=3, tests=("VIAB", "STER", *EXTRA_TESTS))
    db_session.commit()
    return small, large


def statements_for(app, db_session, user, url: str) -> list[str]:
    client = signed_in_as(app, db_session, user)
    assert client.get(url).status_code == 200  # the first request of a session does more than any later one
    with counted_statements(db_session.get_bind()) as traffic:
        page = client.get(url)
    assert page.status_code == 200, url
    return traffic.statements


@pytest.mark.parametrize(
    "page",
    [
        lambda batch: f"/batches/{batch.id}",
        lambda batch: f"/batches/{batch.id}/review",
        lambda batch: f"/batch-steps/{batch.steps[2].id}",
        lambda batch: f"/batch-steps/{batch.steps[3].id}",
    ],
    ids=["batch", "review", "step with equipment", "step with material"],
)
def test_a_batch_page_sends_as_many_statements_for_a_large_batch_as_for_a_small_one(
    app, db_session, line, small_and_large, page
):
    small, large = small_and_large
    assert (len(small.steps), len(small.release_tests), len(large.steps), len(large.release_tests)) == (4, 1, 12, 6)
    large_cost = statements_for(app, db_session, line.qa, page(large))
    small_cost = statements_for(app, db_session, line.qa, page(small))
    assert len(large_cost) == len(small_cost), "\n".join(statement[:100] for statement in large_cost)
