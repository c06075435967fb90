"""The lists a dashboard queue opens (deviations, batches by status) go a keyset page at a time, newest first."""

from __future__ import annotations

from batch_records.models import BatchStatus, DeviationStatus
from batch_records.service import batches, deviations, masters
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.batch_records.test_batch_views import signed_in_as
from tests.helpers import PASSWORD


def test_open_deviations_come_newest_first_a_page_at_a_time(app, db_session, line, batch):
    raised = [
        deviations.raise_deviation(db_session, batch, description=f"Label check {number}", user=line.operator)
        for number in range(3)
    ]
    first = deviations.deviations_after(db_session, status=DeviationStatus.OPEN, limit=2)
    assert first.items == raised[:0:-1] and first.next_key is not None
    rest = deviations.deviations_after(db_session, status=DeviationStatus.OPEN, after=first.next_key, limit=2)
    assert rest.items == [raised[0]] and rest.next_key is None
    assert deviations.deviations_after(db_session, status=DeviationStatus.CLOSED).items == []

    client = signed_in_as(app, db_session, line.qa)
    page = client.get("/deviations").text
    assert all(deviation.number in page for deviation in raised) and 'rel="next"' not in page
    refused = client.get("/deviations?status=open&cursor=bm90LWEta2V5")
    assert refused.status_code == 422 and "cursor" in refused.text


def test_batches_by_status_come_newest_first_a_page_at_a_time(app, db_session, line, batch):
    second = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 654321 C",
        user=line.operator,
    )
    first = batches.batches_after(db_session, status=BatchStatus.IN_PROGRESS, after=None, limit=1)
    assert first.items == [second] and first.next_key is not None
    rest = batches.batches_after(db_session, status=BatchStatus.IN_PROGRESS, after=first.next_key, limit=1)
    assert rest.items == [batch] and rest.next_key is None

    client = signed_in_as(app, db_session, line.operator)
    page = client.get("/batches?status=in+progress").text
    assert batch.batch_number in page and second.batch_number in page and 'rel="next"' not in page
    assert client.get("/batches?cursor=%00").status_code == 422
    assert client.get("/batches?cursor=AAAA").status_code == 422


def test_master_versions_in_review_come_oldest_first_a_page_at_a_time(app, db_session, line):
    draft = masters.new_mbr_version(db_session, line.version.master, change_summary="Longer expansion")
    assert masters.versions_in_review(db_session).items == []
    signatures.sign(db_session, draft, meaning=SignatureMeaning.AUTHORED, user=line.author, password=PASSWORD)
    page = masters.versions_in_review(db_session, limit=1)
    assert page.items == [draft] and page.next_key is None
    drafts = [draft]

    client = signed_in_as(app, db_session, line.qa)
    listed = client.get("/masters").text
    assert "Waiting for QA approval (1)" in listed and drafts[0].label in listed and 'rel="next"' not in listed
    assert client.get("/masters?cursor=AAAA").status_code == 422
