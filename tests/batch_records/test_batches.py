"""Finding executed batches: a client's view of them is filtered in the query, as if no other batch existed."""

from __future__ import annotations

import pytest

from batch_records.service import batches
from lims.errors import RecordNotFound
from protocols.service import subjects as subjects_service


def test_a_sponsor_finds_its_own_batches_and_subjects_and_no_other(db_session, line, batch, create_organization):
    sponsor = line.subject.protocol.sponsor
    stranger = create_organization(code="NORD", name="Nordic CAR Bio")
    assert batches.get_batch(db_session, batch.id, sponsor_id=sponsor.id) is batch
    assert subjects_service.get_subject(db_session, line.subject.id, sponsor_id=sponsor.id) is line.subject
    for batch_id in (batch.id, batch.id + 1000):
        with pytest.raises(RecordNotFound, match=f"There is no batch with id {batch_id}."):
            batches.get_batch(db_session, batch_id, sponsor_id=stranger.id)
    with pytest.raises(RecordNotFound, match=f"There is no subject with id {line.subject.id}."):
        subjects_service.get_subject(db_session, line.subject.id, sponsor_id=stranger.id)
