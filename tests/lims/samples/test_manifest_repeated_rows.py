"""Rows repeating every cell but the client's sample id, as a run of samples does: each id still checked by its own
rules and each row its own, whichever rows came before it."""

from __future__ import annotations

import pytest

from lims.samples.errors import ManifestRefused
from lims.samples.schemas import ManifestRowReader, load_manifest_row
from lims.samples.service import submissions as service
from tests.lims.samples.conftest import row


def draft(db_session, clients):
    return service.create_draft(db_session, clients.helix, reference="Week 49", user=clients.helix_user)


@pytest.mark.parametrize(
    ("client_id", "message"),
    [
        ("HLX-\x07BELL", "control character"),
        ("<script>alert(1)</script>", "letters, digits, dots, dashes"),
        ("X" * 65, "letters, digits, dots, dashes"),
        ("   ", "Enter the client's sample id."),
    ],
)
def test_a_bad_id_on_a_repeated_row_is_refused_as_on_a_first_row(db_session, clients, client_id, message):
    alone = load_manifest_row(row(client_id))[1]
    assert any(message in text for text in alone["client_sample_id"])
    submission = draft(db_session, clients)
    with pytest.raises(ManifestRefused) as refused:
        service.add_rows(db_session, submission, [row("HLX-1"), row("HLX-2"), row(client_id), row("HLX-4")])
    assert [(e.row, e.column, e.message) for e in refused.value.errors] == [
        (3, "client_sample_id", text) for text in alone["client_sample_id"]
    ]


def test_a_repeated_row_without_an_id_is_refused(db_session, clients):
    without_id = {key: value for key, value in row().items() if key != "client_sample_id"}
    submission = draft(db_session, clients)
    with pytest.raises(ManifestRefused) as refused:
        service.add_rows(db_session, submission, [row("HLX-1"), without_id])
    assert [(e.row, e.column) for e in refused.value.errors] == [(2, "client_sample_id")]


def test_repeated_rows_each_go_on_with_their_own_id_and_tests(db_session, clients):
    submission = draft(db_session, clients)
    samples = service.add_rows(db_session, submission, [row("HLX-1"), row("  HLX-2 "), row("HLX-3")])
    assert [sample.client_sample_id for sample in samples] == ["HLX-1", "HLX-2", "HLX-3"]
    assert [sample.requested_test_codes for sample in samples] == [["VIAB", "STER"]] * 3


def test_the_reader_loads_a_repeated_row_as_the_schema_does_and_shares_nothing_mutable():
    reader = ManifestRowReader()
    first, _ = reader.load(row("HLX-1"))
    second, messages = reader.load(row(" HLX-2"))
    assert messages == {}
    assert second == load_manifest_row(row(" HLX-2"))[0]
    first["requested_tests"].append("MYCO")
    assert second["requested_tests"] == ["VIAB", "STER"]
    assert reader.load(row("HLX-3"))[0]["requested_tests"] == ["VIAB", "STER"]


def test_a_row_differing_in_another_cell_is_checked_on_its_own():
    reader = ManifestRowReader()
    reader.load(row("HLX-1"))
    loaded, messages = reader.load(row("HLX-2", quantity="10 kg/mL"))
    assert "quantity" in messages and "quantity" not in loaded
