"""Stability: the lab's limit per sample type and the visit's hours to processing (the stricter wins) set each
sample's deadline at receipt; a late sample is flagged at receipt, and the compliance check finds accepted samples
not processed by their deadline, at its boundary to the second."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit.models import AuditEvent
from lims.errors import DetailMissing
from lims.identity.models import RoleName
from lims.samples.models import SampleStatus, SampleTypeStability
from lims.samples.service import stability
from lims.samples.service import submissions as service
from tests.helpers import login, submit
from tests.lims.compliance.checking import found
from tests.lims.samples.conftest import row, submitted
from tests.lims.samples.stability_support import NOW, hours_ago, plasma, received

CHECK = "samples.past-stability-window"


@pytest.fixture(autouse=True)
def _pinned_clock():
    clock.freeze(NOW)


@pytest.fixture
def manager(create_user):
    return create_user(RoleName.MANAGER, full_name="Mara Lind")


def test_the_deadline_is_the_collection_time_plus_the_limit_of_the_sample_type(db_session, clients, manager):
    stability.set_limit(db_session, sample_type="Plasma", max_hours=6, user=manager)
    (sample,) = received(db_session, clients, plasma("P-1", collected_at=hours_ago(2)))
    assert sample.stability_deadline == NOW + timedelta(hours=4)
    assert not sample.past_stability_window(NOW)
    # The deadline is a change of the sample like any other: in the audit trail, with the receipt's reason.
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "sample", AuditEvent.entity_id == str(sample.id))
    ).all()[-1]
    assert "stability_deadline" in event.changes and event.reason == "Received at the lab"


@pytest.mark.parametrize(("type_hours", "applied"), [(48, 24), (4, 4), (None, 24)])
def test_the_stricter_of_the_type_limit_and_the_visit_hours_to_processing_applies(
    db_session, clients, manager, type_hours, applied
):
    if type_hours is not None:
        stability.set_limit(db_session, sample_type="peripheral blood", max_hours=type_hours, user=manager)
    (sample,) = received(db_session, clients, row("PB-1", collected_at=hours_ago(1)))  # visit SCR: 24 h
    assert sample.stability_deadline == NOW - timedelta(hours=1) + timedelta(hours=applied)


def test_without_a_limit_or_a_collection_time_there_is_no_deadline(db_session, clients):
    (sample,) = received(db_session, clients, plasma("P-1", collected_at=hours_ago(500)))
    assert sample.stability_deadline is None and not sample.past_stability_window(NOW)
    assert found(db_session, CHECK, at=NOW) == {}


def test_changing_a_limit_needs_a_reason_and_is_audited(db_session, manager):
    limit = stability.set_limit(db_session, sample_type="plasma", max_hours=6, user=manager)
    with pytest.raises(DetailMissing):
        stability.set_limit(db_session, sample_type="PLASMA ", max_hours=8, user=manager)
    assert limit.max_hours == 6
    stability.set_limit(db_session, sample_type="PLASMA", max_hours=8, user=manager, reason="Validation study VS-12")
    assert db_session.scalars(select(SampleTypeStability)).one().max_hours == 8
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "sample_type_stability").order_by(AuditEvent.sequence)
    ).all()[-1]
    assert event.action == "update" and event.reason == "Validation study VS-12"
    assert '"max_hours":[6,8]' in event.changes


def test_a_manager_sets_limits_on_the_settings_page(client, db_session, manager):
    login(client, manager)
    response = submit(client, "/sample-types/stability", {"sample_type": "PBMC <b>x</b>", "max_hours": "72"})
    assert response.status_code == 303
    page = client.get("/sample-types/stability").text
    assert "PBMC &lt;b&gt;x&lt;/b&gt;" in page and "72 h" in page and "Mara Lind" in page


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("0", "Enter from 1 to 8784 hours."),
        ("twelve", "Enter a whole number of hours."),
        ("", "Enter a whole number of hours."),
    ],
)
def test_a_wrong_limit_is_refused_with_its_message_and_nothing_is_set(client, db_session, manager, hours, message):
    login(client, manager)
    response = submit(client, "/sample-types/stability", {"sample_type": "plasma", "max_hours": hours})
    assert response.status_code == 422 and message in response.text
    assert db_session.scalars(select(SampleTypeStability)).all() == []


def test_a_changed_limit_without_a_reason_is_refused_on_the_page(client, db_session, manager):
    stability.set_limit(db_session, sample_type="plasma", max_hours=6, user=manager)
    db_session.commit()
    login(client, manager)
    response = submit(client, "/sample-types/stability", {"sample_type": "plasma", "max_hours": "8"})
    assert response.status_code == 422 and "give the reason for changing it" in response.text


def test_a_technician_reads_the_limits_but_may_not_set_them(client, db_session, clients):
    login(client, clients.technician)
    page = client.get("/sample-types/stability")
    assert page.status_code == 200 and "Set the limit" not in page.text
    token = client.get("/samples").text.split('name="csrf_token" value="')[-1].split('"')[0]
    refused = client.post(
        "/sample-types/stability", data={"csrf_token": token, "sample_type": "plasma", "max_hours": "6"}
    )
    assert refused.status_code == 403
    assert db_session.scalars(select(SampleTypeStability)).all() == []


def test_a_client_has_no_access_to_the_limits(client, clients):
    login(client, clients.helix_user)
    assert client.get("/sample-types/stability").status_code == 403


def test_the_receiving_page_flags_a_sample_already_past_its_window_and_its_receipt_says_so(
    client, db_session, clients, manager
):
    stability.set_limit(db_session, sample_type="plasma", max_hours=6, user=manager)
    submission = submitted(
        db_session, clients, plasma("P-LATE", collected_at=hours_ago(7)), plasma("P-FRESH", collected_at=hours_ago(1))
    )
    login(client, clients.technician)
    page = client.get(f"/receiving/{submission.public_id}").text
    assert page.count("already past its stability window") == 1
    late = next(sample for sample in submission.samples if sample.client_sample_id == "P-LATE")
    response = submit(
        client,
        f"/receiving/{submission.public_id}",
        {f"s-{late.public_id}-arrival_temperature": "-78 °C", f"s-{late.public_id}-decision": "accept"},
        action=f"/receiving/{submission.public_id}/samples/{late.public_id}",
    )
    assert response.status_code == 303
    page = client.get(f"/receiving/{submission.public_id}").text
    assert "arrived past its stability window" in page and "received past its stability window" in page


@pytest.mark.parametrize(
    ("after_deadline", "is_found"),
    [
        (-timedelta(days=1), False),
        (-timedelta(seconds=1), False),
        (timedelta(0), False),
        (timedelta(seconds=1), True),
        (timedelta(days=1), True),
    ],
)
def test_the_check_finds_an_accepted_unprocessed_sample_once_past_its_deadline(
    db_session, clients, manager, after_deadline, is_found
):
    stability.set_limit(db_session, sample_type="plasma", max_hours=6, user=manager)
    (sample,) = received(db_session, clients, plasma("P-1", collected_at=hours_ago(2)))
    deadline = NOW + timedelta(hours=4)
    conditions = found(db_session, CHECK, at=deadline + after_deadline)
    assert (str(sample.id) in conditions) is is_found
    assert sample.past_stability_window(deadline + after_deadline) is is_found
    if is_found:
        condition = conditions[str(sample.id)]
        assert condition.record_label == f"{sample.accession_number} (P-1, Helix Cell Therapeutics)"
        assert condition.link == f"/samples/{sample.public_id}"
        assert condition.detail.startswith("plasma not processed ")
        assert condition.detail.endswith(f"after its stability deadline ({hours_ago(-4)})")


def test_the_check_leaves_out_processed_and_rejected_samples(db_session, clients, manager):
    stability.set_limit(db_session, sample_type="plasma", max_hours=1, user=manager)
    (processed,) = received(db_session, clients, plasma("P-TESTED", collected_at=hours_ago(5)))
    (rejected,) = received(db_session, clients, plasma("P-REJ", collected_at=hours_ago(5)), accepted=False)
    (waiting,) = received(db_session, clients, plasma("P-WAIT", collected_at=hours_ago(5)))
    service.move_samples(db_session, [processed], SampleStatus.IN_TESTING, reason="Testing started")
    conditions = found(db_session, CHECK, at=NOW)
    assert set(conditions) == {str(waiting.id)}
    assert conditions[str(waiting.id)].detail.startswith("plasma not processed 4 hours after")
    assert rejected.stability_deadline is not None


def test_the_technicians_dashboard_counts_samples_past_their_window_and_leads_to_them(
    client, db_session, clients, manager
):
    stability.set_limit(db_session, sample_type="plasma", max_hours=1, user=manager)
    received(
        db_session, clients, plasma("P-LATE", collected_at=hours_ago(5)), plasma("P-LATE-2", collected_at=hours_ago(5))
    )
    received(db_session, clients, plasma("P-FRESH", collected_at=hours_ago(0.5)))
    login(client, clients.technician)
    page = client.get("/").text
    queue = page.split('href="/samples?past_stability_window=on">')[1].split("</a>")[0]
    assert '<span class="count">2</span>' in queue and "Samples past their stability window" in queue
    listed = client.get("/samples?past_stability_window=on").text
    assert "P-LATE" in listed and "P-FRESH" not in listed
