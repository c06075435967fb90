"""Training records through the pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from lims import clock, registry
from lims.identity.models import RoleName
from lims.training.models import TrainingRecord
from tests.helpers import duplicate_ids, submit


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(datetime(2030, 4, 10, 8, tzinfo=UTC))


def test_manager_records_training(client, create_user, db_session, signed_in):
    trainee = create_user(RoleName.TECHNICIAN, full_name="Thi Nguyen")
    db_session.commit()
    signed_in(RoleName.MANAGER)
    refused = submit(
        client, "/training", {"user_id": str(trainee.id), "subject": "MBR CAR-T-001 v1", "trained_on": "2031-01-01"}
    )
    assert refused.status_code == 422 and "future date" in refused.text
    done = submit(
        client,
        "/training",
        {
            "user_id": str(trainee.id),
            "subject": "MBR CAR-T-001 v1",
            "trained_on": "2030-04-01",
            "expires_on": "2031-04-01",
        },
    )
    assert done.status_code == 303
    assert "Thi Nguyen" in client.get("/training").text
    record = db_session.scalars(select(TrainingRecord)).one()
    assert (record.user_id, record.subject, record.expires_on.isoformat()) == (
        trainee.id,
        "MBR CAR-T-001 v1",
        "2031-04-01",
    )


def test_the_form_offers_the_subjects_the_areas_require_training_on(client, signed_in, monkeypatch):
    monkeypatch.setattr(
        registry.current(), "_training_subject_finders", [lambda _session: ["MBR CAR-T-001 v2", "SOP-QC-014 v3"]]
    )
    signed_in(RoleName.MANAGER)
    page = client.get("/training").text
    assert '<option value="MBR CAR-T-001 v2"><option value="SOP-QC-014 v3">' in page and duplicate_ids(page) == []
