"""Values that cannot be true are refused: a negative volume or count, a fraction of a whole outside 0–100 %; the
master record's parameter and the test definition say which kind their value is."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from batch_records.models import Deviation, MbrStep
from batch_records.service import execution, masters, release
from lims.identity.models import RoleName
from lims.units.errors import PhysicallyImpossible
from lims.units.kinds import ValueKind
from lims.units.parsing import parse_measurement
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import execute_all_steps
from tests.batch_records.test_master_views import draft, version_url, viability  # noqa: F401  (fixtures)
from tests.helpers import submit


def parameter_named(step, name):
    return next(parameter for parameter in step.parameters if parameter.name == name)


def test_a_negative_volume_is_refused_and_nothing_is_recorded(db_session, line, batch):
    volume = parameter_named(batch.steps[0], "Volume")
    assert volume.value_kind == ValueKind.NON_NEGATIVE, "the batch keeps the master's kind"
    with pytest.raises(PhysicallyImpossible, match="Volume: -3 mL is not possible: volume cannot be negative") as no:
        execution.record_entry(db_session, volume, "-3", user=line.operator)
    assert no.value.field == f"parameter-{volume.id}"
    assert volume.entries == [] and db_session.scalars(select(Deviation)).all() == []


def test_zero_of_a_non_negative_quantity_is_possible(db_session, line, batch):
    remarks = parameter_named(batch.steps[0], "Remarks count")
    with pytest.raises(PhysicallyImpossible):
        execution.record_entry(db_session, remarks, "-1", user=line.operator)
    entry = execution.record_entry(db_session, remarks, "0", user=line.operator)
    assert entry.within_limits


def test_a_signed_temperature_may_be_below_zero(db_session, line, batch):
    temperature = parameter_named(batch.steps[0], "Temperature on receipt")
    assert temperature.value_kind == ValueKind.SIGNED
    entry = execution.record_entry(db_session, temperature, "-2", user=line.operator)
    assert not entry.within_limits, "kept as recorded, outside its limits"


def test_a_correction_to_an_impossible_value_is_refused(db_session, line, batch):
    volume = parameter_named(batch.steps[0], "Volume")
    entry = execution.record_entry(db_session, volume, "180", user=line.operator)
    with pytest.raises(PhysicallyImpossible):
        execution.correct_entry(db_session, entry, "-180", reason="Typed the sign wrongly", user=line.operator)
    assert [current.value for current in volume.entries] == [parse_measurement("180 mL")]


def test_the_step_page_shows_the_refusal_beside_the_value(app, db_session, line, batch):
    step = batch.steps[0]
    volume, remarks = parameter_named(step, "Volume"), parameter_named(step, "Remarks count")
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batch-steps/{step.id}"
    refused = submit(client, url, {f"parameter-{volume.id}": "-3 mL"}, action=f"{url}/entries")
    assert refused.status_code == 422 and f'id="parameter-{volume.id}-error"' in refused.text
    assert "volume cannot be negative" in refused.text
    db_session.expire_all()
    assert volume.entries == []
    assert submit(client, url, {f"parameter-{remarks.id}": "0"}, action=f"{url}/entries").status_code == 303


def test_a_viability_above_100_percent_is_refused_and_100_is_recorded(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    viability_test = batch.release_tests[0]
    with pytest.raises(PhysicallyImpossible, match="150 % is not possible: a fraction of a whole") as refused:
        release.record_release_result(db_session, viability_test, "150", user=line.operator)
    assert refused.value.field == "result"
    assert release.results_of_test(db_session, viability_test) == []
    result = release.record_release_result(db_session, viability_test, "100", user=line.operator)
    assert result.conforms


def test_the_batch_page_refuses_150_percent_viability_beside_the_result(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    viability_test = batch.release_tests[0]
    client = signed_in_as(app, db_session, line.operator)
    url, action = f"/batches/{batch.id}", f"/batch-release-tests/{viability_test.id}/results"
    refused = submit(client, url, {f"test-{viability_test.id}-result": "150"}, action=action)
    assert refused.status_code == 422 and f'id="test-{viability_test.id}-result-error"' in refused.text
    assert "a fraction of a whole lies between 0 and 100 %" in refused.text
    assert submit(client, url, {f"test-{viability_test.id}-result": "0"}, action=action).status_code == 303


def test_a_parameter_states_its_kind_and_a_fraction_has_no_dimension(db_session, draft):  # noqa: F811
    step = draft.steps[0]
    purity = masters.add_parameter(db_session, step, name="Purity", unit="%", value_kind=ValueKind.FRACTION)
    assert purity.value_kind == ValueKind.FRACTION and "(fraction of a whole)" in str(purity)
    assert masters.add_parameter(db_session, step, name="Yield", unit="%").value_kind == ValueKind.SIGNED
    with pytest.raises(PhysicallyImpossible) as refused:
        masters.add_parameter(db_session, step, name="Bag volume", unit="mL", value_kind=ValueKind.FRACTION)
    assert refused.value.field == "value_kind"
    with pytest.raises(PhysicallyImpossible) as impossible_target:
        masters.add_parameter(db_session, step, name="Wash volume", unit="mL", target=parse_measurement("-5 mL"))
    assert impossible_target.value.field == "target"


def test_a_signed_parameter_reads_as_before_kinds_existed(db_session, draft):  # noqa: F811
    step = draft.steps[0]
    temperature = masters.add_parameter(db_session, step, name="Temperature", unit="°C", limit="2–8 °C")
    assert str(temperature) == "Temperature [°C] limits 2–8 °C"


def test_the_author_chooses_the_kind_on_the_design_page(client, db_session, draft, signed_in):  # noqa: F811
    signed_in(RoleName.MANAGER)
    url = version_url(draft)
    step_id = draft.steps[0].id
    page = client.get(url).text
    assert 'id="parameter-value_kind"' in page and "Fraction of a whole, 0–100 %" in page
    refused = submit(
        client,
        url,
        {"step_id": str(step_id), "name": "Bag volume", "unit": "mL", "value_kind": "fraction of a whole"},
        action=url + "/parameters",
    )
    assert refused.status_code == 422 and 'id="parameter-value_kind-error"' in refused.text
    unknown = submit(
        client, url, {"step_id": str(step_id), "name": "Purity", "value_kind": "imaginary"}, action=url + "/parameters"
    )
    assert unknown.status_code == 422 and "Choose the kind of value" in unknown.text
    added = submit(
        client,
        url,
        {"step_id": str(step_id), "name": "Purity", "unit": "%", "value_kind": "fraction of a whole"},
        action=url + "/parameters",
    )
    assert added.status_code == 303
    db_session.expire_all()
    step = db_session.get(MbrStep, step_id)
    assert [(parameter.name, parameter.value_kind) for parameter in step.parameters] == [
        ("Volume", ValueKind.NON_NEGATIVE),
        ("Purity", ValueKind.FRACTION),
    ]
    assert "fraction of a whole" in client.get(url).text
