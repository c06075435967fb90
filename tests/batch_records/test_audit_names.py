"""The audit trail names batch records, lots and users as people call them, and is filtered by those names."""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from batch_records.service import batches, execution
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import do_receipt


def results(client, url: str) -> str:
    """The result table of an audit page, without the filter form."""
    return client.get(url).text.split("<tbody>")[1].split("</tbody>")[0]


def test_records_are_named_by_batch_number_step_title_lot_number_and_username(app, db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.qa)
    trail = results(client, "/audit")
    assert f">batch {batch.batch_number}</a>" in trail
    assert f">step 1. {step.title} ({batch.batch_number})</a>" in trail
    assert f"batch {batch.id}<" not in trail
    lots = results(client, "/audit?entity_type=material_lot")
    assert f">lot {line.medium_lot.lot_number}</a>" in lots and f"material lot {line.medium_lot.id}<" not in lots
    assert f">user {line.operator.username}</a>" in results(client, "/audit?entity_type=user_account")


def test_the_trail_is_filtered_by_batch_number_and_lot_number(app, db_session, line, batch):
    other = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 999999 1",
        user=line.operator,
    )
    client = signed_in_as(app, db_session, line.qa)
    page = client.get(f"/audit?entity_type=batch&entity_id={batch.batch_number}")
    assert page.status_code == 200
    assert f"<h1>History of batch {batch.batch_number}</h1>" in page.text
    listed = page.text.split("<tbody>")[1]
    assert f"batch {batch.batch_number}<" in listed and other.batch_number not in listed
    lot = results(client, f"/audit?entity_type=material_lot&entity_id={line.medium_lot.lot_number}")
    assert f"lot {line.medium_lot.lot_number}<" in lot and "batch " not in lot
    assert f'href="/audit?entity_type=batch&amp;entity_id={batch.batch_number}"' in results(client, "/audit")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "entity_type=batch&entity_id=CART-NOPE-000000",
            "There is no batch called &#39;CART-NOPE-000000&#39;. Enter a batch number.",
        ),
        (
            "entity_type=material_lot&entity_id=no-such-lot",
            "There is no lot called &#39;no-such-lot&#39;. Enter a lot number.",
        ),
        ("entity_type=batch&entity_id=%C2%B2", "There is no batch called &#39;²&#39;."),
        ("entity_type=spaceship&entity_id=1", "&#39;spaceship&#39; is not a type of controlled record."),
        ("entity_type=batch_entry&entity_id=first", "&#39;first&#39; is not the id of a batch entry."),
        ("entity_id=CART-HLX19-260002", "Choose the type of the record you name."),
    ],
)
@pytest.mark.parametrize("url", ["/audit", "/audit/export.csv"])
def test_a_record_filter_that_names_no_record_is_refused(app, db_session, line, batch, url, query, message):
    response = signed_in_as(app, db_session, line.qa).get(f"{url}?{query}")
    assert response.status_code == 422 and message in response.text


@contextmanager
def counted_statements(db_session):
    statements: list[str] = []
    engine = db_session.get_bind()

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_naming_the_records_of_a_page_takes_as_many_statements_for_many_events_as_for_one(app, db_session, line, batch):
    client = signed_in_as(app, db_session, line.qa)

    def statements_for(url: str) -> tuple[int, int]:
        with counted_statements(db_session) as statements:
            page = client.get(url)
        assert page.status_code == 200
        return len(statements), page.text.count(f"({batch.batch_number})</a>")

    one_step = statements_for(f"/audit?entity_type=batch_step&entity_id={batch.steps[0].id}")
    every_step = statements_for("/audit?entity_type=batch_step")
    assert one_step[1] == 1 and every_step[1] == len(batch.steps) > 1
    assert every_step[0] == one_step[0]


def test_a_page_of_records_of_many_types_is_named_in_as_many_statements_as_a_page_of_one_type(
    app, db_session, line, batch
):
    do_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.qa)

    def statements_for(url: str) -> tuple[int, str]:
        with counted_statements(db_session) as statements:
            page = client.get(url)
        assert page.status_code == 200
        return len(statements), page.text.split("<tbody>")[1]

    one_type, batches_only = statements_for("/audit?entity_type=batch")
    many_types, everything = statements_for("/audit")
    assert f">batch {batch.batch_number}</a>" in batches_only and ">step " not in batches_only
    assert ">lot " not in batches_only
    kinds = ("batch ", "step 1.", "user ")
    assert all(f">{kind}" in everything for kind in kinds), [kind for kind in kinds if f">{kind}" not in everything]
    assert many_types == one_type


def test_a_batch_history_groups_its_events_by_step_and_names_what_changes_refer_to(app, db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.qa)
    history = results(client, f"/audit?entity_type=batch&entity_id={batch.batch_number}&with_parts=1")
    batch_heading = f'scope="rowgroup">batch {batch.batch_number}</th>'
    step_heading = f'scope="rowgroup">step 1. {step.title} ({batch.batch_number})</th>'
    assert history.index(batch_heading) < history.index(step_heading)
    in_step = history.split(step_heading)[1]
    assert '<strong>parameter</strong>: <ins><span title="batch parameter' in in_step
    assert ">Volume</span></ins>" in in_step and ">Temperature on receipt</span></ins>" in in_step
    assert (
        f'<strong>entered by</strong>: <ins><span title="user account {line.operator.id}">Tran Nguyen</span>' in in_step
    )
    assert "<strong>entered_at</strong>: <ins>2030-04-10 08:00:00 UTC</ins>" in in_step
    assert "+00:00" not in history


def test_long_hashes_are_shortened_with_the_full_value_on_demand(app, db_session, line, batch):
    do_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.qa)
    history = results(client, f"/audit?entity_type=batch&entity_id={batch.batch_number}&with_parts=1")
    full = re.search(r'<strong>content_hash</strong>: <ins><span title="([0-9a-f]{64})">([0-9a-f]+)…</span>', history)
    assert full and full[1].startswith(full[2]) and len(full[2]) == 12
    assert f">{full[1]}<" not in history


def test_a_batch_history_takes_as_many_statements_for_more_events_of_its_steps(app, db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.qa)
    url = f"/audit?entity_type=batch&entity_id={batch.batch_number}&with_parts=1"

    def statements() -> int:
        db_session.expire_all()
        with counted_statements(db_session) as counted:
            assert client.get(url).status_code == 200
        return len(counted)

    before = statements()
    for value in ("181", "182", "183"):
        execution.correct_entry(
            db_session, step.parameters[0].current_entry, value, reason="Misread the scale", user=line.operator
        )
    db_session.commit()
    assert client.get(url).text.count("Misread the scale") >= 3
    assert statements() == before


def test_the_csv_export_names_records_and_references_as_the_viewer_does(app, db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.qa)
    exported = client.get(f"/audit/export.csv?entity_type=batch&entity_id={batch.batch_number}&with_parts=1")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    created_step_entries = [row for row in rows if row["entity_type"] == "batch_entry" and row["action"] == "create"]
    assert {row["record"] for row in rows if row["entity_type"] == "batch"} == {f"batch {batch.batch_number}"}
    assert f"step 1. {step.title} ({batch.batch_number})" in {row["record"] for row in rows}
    entry = created_step_entries[0]
    assert f"entered by: Tran Nguyen (user account {line.operator.id})" in entry["changes_named"]
    assert (
        "parameter: Volume (batch parameter" in entry["changes_named"]
        or "parameter: Temperature on receipt" in (entry["changes_named"])
    )
    # The chain's own fields stay as it holds them, for whoever recomputes the hashes.
    assert f'"entered_by_id":[null,{line.operator.id}]' in entry["changes"]


def test_naming_the_records_of_an_export_takes_as_many_statements_for_many_events_as_for_one(
    app, db_session, line, batch
):
    client = signed_in_as(app, db_session, line.qa)

    def statements_for(url: str) -> tuple[int, int]:
        with counted_statements(db_session) as statements:
            exported = client.get(url)
        assert exported.status_code == 200
        # The export's own event and its anchoring read the chain's head as often for any export: count the rest.
        naming = [sql for sql in statements if "audit_event" not in sql and "SAVEPOINT" not in sql]
        return len(naming), exported.text.count(f"({batch.batch_number}),")

    one_step = statements_for(f"/audit/export.csv?entity_type=batch_step&entity_id={batch.steps[0].id}")
    every_step = statements_for("/audit/export.csv?entity_type=batch_step")
    assert one_step[1] == 1 and every_step[1] == len(batch.steps) > 1
    assert every_step[0] == one_step[0]
