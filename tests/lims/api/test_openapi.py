"""Every operation of /api/v1/openapi.json, run with generated arguments as a client system and as staff.

No answer may be a server error, and every answer must be one the description names, in its declared
shape: valid and invalid arguments alike, ids of real records and of none.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from lims import clock
from lims.compliance.models import Finding
from lims.compliance.service import findings
from lims.identity.models import RoleName
from lims.notifications import service as notifications
from lims.notifications.models import Notification
from lims.registry import ComplianceCheck, Condition
from lims.samples.service import events, storage, submissions
from lims.samples.storage_models import StorageKind
from lims.units.parsing import parse_measurement


@pytest.fixture
def helix_submission(db_session, clients) -> dict[str, str]:
    """The public ids of a submitted Helix manifest, its sample and a webhook of Helix's."""
    submission = submissions.create_draft(db_session, clients.helix, reference="Week 49", user=None)
    (sample,) = submissions.add_rows(
        db_session,
        submission,
        [
            {
                "client_sample_id": "HLX-1",
                "sample_type": "serum",
                "collected_at": "2026-01-05 08:00",
                "quantity": "2 mL",
                "container": "SST tube",
                "storage_requirement": "-20 °C",
            }
        ],
    )
    submissions.submit(db_session, submission)
    webhook = events.register_webhook(
        db_session,
        organization_id=clients.helix.id,
        url="https://hooks.example.org/lims",
        secret="x" * 20,
        user_id=None,
    )
    db_session.commit()
    return {"submission_id": submission.public_id, "sample_id": sample.public_id, "webhook_id": webhook.public_id}


@pytest.fixture
def storage_ids(db_session, create_user) -> dict[str, int]:
    """A fridge with a rack and a box."""
    fridge = storage.create_unit(
        db_session,
        name="Fridge R-01",
        kind=StorageKind.FRIDGE,
        location="Room 2.14",
        minimum_temperature=parse_measurement("2 °C"),
        maximum_temperature=parse_measurement("8 °C"),
        user=create_user(RoleName.MANAGER),
    )
    box = storage.add_box(
        db_session, storage.add_rack(db_session, fridge, name="Shelf 1"), name="Box 1", rows=2, columns=2
    )
    db_session.commit()
    return {"unit_id": fridge.id, "box_id": box.id}


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Enough to try each argument and path in a few ways; the whole run stays within seconds.
EXAMPLES_PER_OPERATION = 5


@pytest.fixture(params=["client token", "staff session"])
def caller(request, clients, client, signed_in) -> dict[str, Any]:
    """What a call sends to authenticate: Helix's token, or a QA member's signed-in session cookie."""
    if request.param == "client token":
        return {"headers": clients.helix_token}
    signed_in(RoleName.QA)
    cookie = client.get_cookie("lims_session")
    return {"cookies": {cookie.key: cookie.value}}


@pytest.fixture
def notification_id(db_session, create_user) -> int:
    """A message to a QA officer (not the caller: the caller's answer for it is 404)."""
    officer = create_user(RoleName.QA)
    notifications.notify(db_session, key="test", subject="Test", body="Test", link="/inbox", users=[officer.id])
    db_session.commit()
    return db_session.scalars(select(Notification.id)).one()


@pytest.fixture
def finding_id(db_session, records) -> int:
    """An open finding on the line's cabinet."""
    condition = Condition("equipment", str(records.line.cabinet.id), "cabinet", "calibration 1 day overdue")
    check = ComplianceCheck("test.overdue", "Overdue", "equipment", "major", "every 1h", lambda *_: [condition])
    findings.keep_findings(db_session, check, [condition], now=clock.now())
    db_session.commit()
    return db_session.scalars(select(Finding.id)).one()


def test_every_operation_answers_as_its_description_says(
    app, records, certified, helix_submission, notification_id, finding_id, storage_ids, caller
):
    known_ids = {
        "notification_id": notification_id,
        "finding_id": finding_id,
        "document_id": certified.id,
        "batch_id": records.batch.id,
        "subject_id": records.line.subject.id,
        "protocol_id": records.line.subject.protocol_id,
        "equipment_id": records.line.cabinet.id,
        **helix_submission,
        **storage_ids,
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9

    for operation in operations:
        path_names = {parameter.name for parameter in operation.path_parameters}
        strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        if path_names:
            strategies.append(operation.as_strategy(path_parameters={name: known_ids[name] for name in path_names}))

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def answers_as_described(case: schemathesis.Case) -> None:
            response = case.call(**caller)
            case.validate_response(response, checks=CHECKS)

        answers_as_described()
