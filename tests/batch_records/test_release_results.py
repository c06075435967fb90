"""Release results through the batch page: only an analyst trained on the test method records or verifies one, on
an instrument of the test's kind that the equipment rule lets be used."""

from __future__ import annotations

from datetime import timedelta

from batch_records.cart_line import calibrated
from batch_records.service import release
from lims.audit import context as audit_context
from lims.equipment.models import EquipmentType
from lims.equipment.service import inventory
from lims.training import service as training
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import execute_all_steps
from tests.helpers import PASSWORD, duplicate_ids, submit


def test_an_analyst_untrained_on_the_method_cannot_record_a_result(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    viability = batch.release_tests[0]
    client = signed_in_as(app, db_session, line.untrained)
    url, action = f"/batches/{batch.id}", f"/batch-release-tests/{viability.id}/results"
    refused = submit(client, url, {f"test-{viability.id}-result": "91.5"}, action=action)
    assert refused.status_code == 403
    assert "Noah Berg has no training on Test method VIAB in force on 2030-04-10." in refused.text
    assert release.results_of_test(db_session, viability) == []
    training.record_training(
        db_session,
        user=line.untrained,
        subject=viability.definition.training_subject,
        trained_on=TODAY,
        expires_on=None,
        recorded_by=line.author,
    )
    db_session.commit()
    assert submit(client, url, {f"test-{viability.id}-result": "91.5"}, action=action).status_code == 303


def test_an_untrained_verifier_is_refused_on_the_signing_page(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    result = release.record_release_result(db_session, batch.release_tests[0], "91.5", user=line.operator)
    client = signed_in_as(app, db_session, line.untrained)
    url = f"/sign/test_result/{result.id}/verified"
    refused = client.get(url)
    assert refused.status_code == 403 and "no training on Test method VIAB" in refused.text, "refused before signing"
    db_session.expire_all()
    assert not release.release_test_states(db_session, batch)[0].verified
    verifier = signed_in_as(app, db_session, line.second_operator)
    assert submit(verifier, url, {"password": PASSWORD}).status_code == 303


def flow_cytometer(db_session, tag, *, due_on):
    item = inventory.create_equipment(
        db_session,
        asset_tag=tag,
        name="Flow cytometer",
        equipment_type=EquipmentType.FLOW_CYTOMETER,
        location="QC lab",
        manufacturer="Beckman Coulter",
        model="CytoFLEX",
        serial_number=tag,
        calibration_interval_days=180,
        owner=None,
    )
    return calibrated(db_session, item, due_on=due_on)


def test_the_result_form_offers_usable_instruments_and_refuses_an_overdue_one(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    viability = batch.release_tests[0]
    with audit_context.reason_for_change(db_session, "Arranged: viability measured on a flow cytometer"):
        viability.definition.instrument_type = EquipmentType.FLOW_CYTOMETER
    usable = flow_cytometer(db_session, "FCM-01", due_on=TODAY)
    overdue = flow_cytometer(db_session, "FCM-02", due_on=TODAY - timedelta(days=1))
    client = signed_in_as(app, db_session, line.operator)
    url, action = f"/batches/{batch.id}", f"/batch-release-tests/{viability.id}/results"
    page = client.get(url).text
    offered = f'<option value="{usable.id}">FCM-01 — Flow cytometer (calibration due soon)</option>'
    assert offered in page and "FCM-02 — " not in page
    assert "FCM-02 (Flow cytometer) cannot be used: its calibration was due on 2030-04-09." in page
    assert duplicate_ids(page) == []
    missing = submit(client, url, {f"test-{viability.id}-result": "91.5"}, action=action)
    assert missing.status_code == 422 and f'id="test-{viability.id}-instrument_id-error"' in missing.text
    refused = submit(
        client,
        url,
        {f"test-{viability.id}-result": "91.5", f"test-{viability.id}-instrument_id": overdue.id},
        action=action,
    )
    assert refused.status_code == 409 and f'id="test-{viability.id}-instrument_id-error"' in refused.text
    assert "FCM-02 (Flow cytometer) cannot be used: its calibration was due on 2030-04-09." in refused.text
    db_session.expire_all()
    assert release.results_of_test(db_session, viability) == []
    recorded = submit(
        client,
        url,
        {f"test-{viability.id}-result": "91.5", f"test-{viability.id}-instrument_id": usable.id},
        action=action,
    )
    assert recorded.status_code == 303
    assert "on FCM-01 (Flow cytometer)" in client.get(url).text
    qa = signed_in_as(app, db_session, line.qa)
    detail = qa.get(f"/api/v1/batches/{batch.id}").json
    assert [(test["test"], test["instrument"]) for test in detail["release_tests"]] == [
        ("Viability", "FCM-01"),
        ("Sterility", None),
    ]


def test_the_definer_names_the_kind_of_instrument(app, db_session, line):
    manager = signed_in_as(app, db_session, line.author)
    form = {
        "code": "CD3",
        "name": "CD3+ T cells",
        "method": "Flow cytometry",
        "result_kind": "quantitative",
        "unit": "%",
        "specification": "≥ 80 %",
        "value_kind": "fraction of a whole",
    }
    unknown = submit(manager, "/test-definitions/new", {**form, "instrument_type": "crystal ball"})
    assert unknown.status_code == 422 and 'id="instrument_type-error"' in unknown.text
    created = submit(manager, "/test-definitions/new", {**form, "instrument_type": "flow cytometer"})
    assert created.status_code == 303
    assert "<td>flow cytometer</td>" in manager.get("/test-definitions").text
