"""The lots in quarantine, the list QA's dashboard queue opens, go a keyset page at a time, first received first."""

from __future__ import annotations

from lims.identity.models import RoleName
from lims.materials import service


def test_lots_in_quarantine_come_first_received_first_a_page_at_a_time(client, db_session, receive, signed_in):
    lots = [receive(expires_in_days=days) for days in (90, 120, 150)]
    first = service.lots_awaiting_release(db_session, limit=2)
    assert first.items == lots[:2] and first.next_key is not None
    rest = service.lots_awaiting_release(db_session, after=first.next_key, limit=2)
    assert rest.items == lots[2:] and rest.next_key is None

    signed_in(RoleName.QA)
    page = client.get("/materials").text
    assert all(lot.lot_number in page for lot in lots) and 'rel="next"' not in page
    assert "<td>3</td>" in page  # the medium's lots, counted in SQL
    refused = client.get("/materials?cursor=WyJub3QtYS1kYXRlIiwxXQ")
    assert refused.status_code == 422 and "cursor" in refused.text
