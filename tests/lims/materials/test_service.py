"""Materials and lots: quarantine and QA disposition, expiry, units-aware consumption for other areas' records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims import clock, registry
from lims.audit.errors import ReasonRequired
from lims.errors import DateInFuture, DatesOutOfOrder, OutOfRange
from lims.identity.errors import LoginFailed
from lims.identity.models import RoleName
from lims.materials import service
from lims.materials.errors import LotExhausted, LotExpired, LotNotReleased, NotAnAmount, NotInMaterialUnit
from lims.materials.models import LotStatus
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import SignatureMeaning
from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD
from tests.lims.materials.conftest import TODAY


def release(db_session, lot, qa):
    signatures.sign(db_session, lot, meaning=SignatureMeaning.RELEASED, user=qa, password=PASSWORD)


def test_a_received_lot_waits_in_quarantine_until_qa_releases_it(db_session, receive, create_user):
    lot = receive()
    assert lot.status == LotStatus.QUARANTINE and lot.lot_number == "MED-001-300409-001"
    with pytest.raises(LotNotReleased):
        service.consume(
            db_session, lot, parse_measurement("10 mL"), user=receive.technician, record_type="assay", record_id=1
        )
    with pytest.raises(SignatureRefused, match="may not sign"):
        release(db_session, lot, receive.technician)
    release(db_session, lot, create_user(RoleName.QA))
    assert lot.status == LotStatus.RELEASED


def test_consumption_deducts_in_mixed_units(db_session, receive, create_user):
    lot = receive("1 L")
    release(db_session, lot, create_user(RoleName.QA))
    service.consume(
        db_session, lot, parse_measurement("250 mL"), user=receive.technician, record_type="assay", record_id=7
    )
    service.consume(
        db_session, lot, parse_measurement("0.1 L"), user=receive.technician, record_type="assay", record_id=8
    )
    assert lot.quantity_remaining == Measurement(lot.quantity_remaining.value, "L")
    assert lot.quantity_remaining.value == parse_measurement("0.65 L").value
    with pytest.raises(LotExhausted, match=r"has only 0\.65 L left"):
        service.consume(
            db_session, lot, parse_measurement("700 mL"), user=receive.technician, record_type="assay", record_id=9
        )
    with pytest.raises(IncompatibleUnits, match="cannot be taken from a lot counted in L"):
        service.consume(
            db_session, lot, parse_measurement("5 g"), user=receive.technician, record_type="assay", record_id=9
        )
    assert [str(taken.quantity) for taken, _record in service.consumptions(db_session, lot)] == ["250 mL", "0.1 L"]


def test_an_expired_lot_is_unusable_whatever_its_status_says(db_session, receive, create_user):
    lot = receive(expires_in_days=5)
    release(db_session, lot, create_user(RoleName.QA))
    clock.freeze(datetime(2030, 4, 16, 8, tzinfo=UTC))
    assert lot.status == LotStatus.RELEASED
    with pytest.raises(LotExpired, match="expired on 2030-04-15"):
        service.consume(
            db_session, lot, parse_measurement("1 mL"), user=receive.technician, record_type="assay", record_id=1
        )
    assert service.usable_lots(db_session, lot.material).items == []
    assert [
        (choice.lot_number, state.usable, state.reason)
        for choice, state in service.unusable_lots(db_session, lot.material)
    ] == [(lot.lot_number, False, "expired on 2030-04-15")]


def test_an_expired_lot_cannot_be_released(db_session, receive, create_user):
    lot = receive(expires_in_days=1)
    clock.freeze(datetime(2030, 4, 12, 8, tzinfo=UTC))
    with pytest.raises(LotExpired):
        release(db_session, lot, create_user(RoleName.QA))


def test_rejection_needs_a_reason_and_a_signature(db_session, receive, create_user):
    lot = receive()
    qa = create_user(RoleName.QA)
    with pytest.raises(ReasonRequired):
        signatures.sign(db_session, lot, meaning=SignatureMeaning.REJECTED, user=qa, password=PASSWORD)
    with pytest.raises(LoginFailed):
        service.reject_lot(db_session, lot, reason="Seal broken on arrival", user=qa, password="wrong-password-9")
    assert lot.rejection_reason is None
    service.reject_lot(db_session, lot, reason="Seal broken on arrival", user=qa, password=PASSWORD)
    assert (lot.status, lot.rejection_reason) == (LotStatus.REJECTED, "Seal broken on arrival")
    assert service.usability(lot, TODAY).reason == "rejected by QA"


@pytest.mark.parametrize(
    ("kwargs", "refusal"),
    [
        ({"received_on": TODAY + timedelta(days=1)}, DateInFuture),
        ({"expires_on": TODAY - timedelta(days=1)}, DatesOutOfOrder),
        ({"quantity": parse_measurement("0 L")}, OutOfRange),
        ({"quantity": parse_measurement("3 m")}, NotAnAmount),
        ({"quantity": parse_measurement("4 °C")}, NotAnAmount),
    ],
)
def test_receipt_input_is_checked(db_session, medium, create_user, kwargs, refusal):
    fields = {
        "supplier": "S",
        "supplier_lot": "L",
        "received_on": TODAY,
        "expires_on": TODAY + timedelta(days=30),
        "quantity": parse_measurement("1 L"),
        **kwargs,
    }
    with pytest.raises(refusal):
        service.receive_lot(db_session, medium, user=create_user(), **fields)


def test_a_lot_is_traced_to_the_records_its_material_went_into(db_session, receive, create_user, monkeypatch):
    prepared = service.ConsumingRecord("sample preparation", "SP-0007", "samples.preparation", (("preparation_id", 7),))
    monkeypatch.setattr(
        registry.current(),
        "_consuming_record_finders",
        {"sample_preparation": lambda _session, ids: {record_id: prepared for record_id in ids if record_id == "7"}},
    )
    lot = receive()
    release(db_session, lot, create_user(RoleName.QA))
    for record_type, record_id in (("sample_preparation", 7), ("sample_preparation", 8), ("stability_pull", 7)):
        service.consume(
            db_session,
            lot,
            parse_measurement("10 mL"),
            user=receive.technician,
            record_type=record_type,
            record_id=record_id,
        )
    assert [
        (taken.record_type, taken.record_id, record) for taken, record in service.consumptions(db_session, lot)
    ] == [("sample_preparation", "7", prepared), ("sample_preparation", "8", None), ("stability_pull", "7", None)]


def test_a_lot_is_received_only_in_its_materials_dimension(db_session, medium, create_user):
    technician = create_user(RoleName.TECHNICIAN)
    receipt = {
        "supplier": "Miltenyi",
        "supplier_lot": "7231",
        "received_on": TODAY,
        "expires_on": TODAY + timedelta(days=90),
        "user": technician,
    }
    with pytest.raises(NotInMaterialUnit, match="MED-001 is counted in mL: 25 g is mass, not volume") as refused:
        service.receive_lot(db_session, medium, quantity=parse_measurement("25 g"), **receipt)
    assert refused.value.field == "quantity"
    lot = service.receive_lot(db_session, medium, quantity=parse_measurement("0.5 L"), **receipt)
    assert lot.quantity_received == parse_measurement("0.5 L"), "a compatible unit is kept as received"
    bags = service.create_material(
        db_session, part_number="BAG-01", name="Bag", specification="Sterile", storage_condition="RT", unit=" "
    )
    assert bags.unit == ""
    with pytest.raises(NotInMaterialUnit, match="BAG-01 is counted in items"):
        service.receive_lot(db_session, bags, quantity=parse_measurement("5 mL"), **receipt)
    assert service.receive_lot(db_session, bags, quantity=parse_measurement("20"), **receipt).material is bags


@pytest.mark.parametrize(("unit", "refusal"), [("°C", NotAnAmount), ("cells/mL", NotAnAmount), ("zorks", UnitError)])
def test_a_material_is_counted_in_a_volume_mass_or_count(db_session, unit, refusal):
    with pytest.raises(refusal) as refused:
        service.create_material(
            db_session, part_number="X-1", name="X", specification="-", storage_condition="RT", unit=unit
        )
    assert refused.value.field == "unit"
