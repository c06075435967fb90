"""Samples received with a known collection time, for the stability and work-list tests (the clock is pinned)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lims import clock
from lims.samples.models import Sample
from lims.samples.service import accessioning
from lims.samples.service import submissions as service
from tests.lims.samples.conftest import Clients, accept, row

NOW = datetime(2030, 4, 10, 8, tzinfo=UTC)


def local(moment: datetime) -> str:
    return moment.astimezone(clock.facility_zone()).strftime("%Y-%m-%d %H:%M")


def plasma(client_sample_id: str, **overrides: Any) -> dict[str, Any]:
    """A row of plasma sent for no protocol: only the lab's limit for its type applies."""
    return (
        row(
            client_sample_id,
            sample_type="plasma",
            protocol=None,
            subject=None,
            visit=None,
            quantity="1.5 mL",
            container="cryovial",
            storage_requirement="-80 °C",
            requested_tests="VIAB",
        )
        | overrides
    )


def received(
    db_session: Session, clients: Clients, *rows: dict[str, Any], organization: str = "helix", accepted: bool = True
) -> list[Sample]:
    """``rows`` on one submitted manifest of ``organization``, every sample received now (accepted or rejected)."""
    user = clients.helix_user if organization == "helix" else clients.nordic_user
    submission = service.create_draft(db_session, getattr(clients, organization), reference="Stability", user=user)
    samples = service.add_rows(db_session, submission, list(rows))
    service.submit(db_session, submission)
    receipt = accept() if accepted else accept(accepted=False, rejection_reason="Haemolysed")
    for sample in samples:
        accessioning.receive_sample(db_session, sample, receipt, user=clients.technician)
    db_session.commit()
    return samples


def hours_ago(hours: float) -> str:
    return local(NOW - timedelta(hours=hours))
