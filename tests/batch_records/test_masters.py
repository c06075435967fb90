"""Master batch records: lifecycle, frozen copies in batches, and the chain of identity both ways."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batch_records.errors import (
    MbrIncomplete,
    ParameterUnitsDisagree,
    StartingMaterialUsed,
    YieldDesignRefused,
)
from batch_records.models import MbrStatus
from batch_records.service import batches, masters
from lims.equipment.models import EquipmentType
from lims.errors import AlreadyExists
from lims.materials.errors import NotAnAmount
from lims.signatures import service as signatures
from lims.signatures.errors import SamePersonRefused
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from lims.versioning import errors as versioning_errors
from lims.versioning import service as versioning
from protocols.service import subjects as subjects_service
from tests.helpers import PASSWORD


def sign(session, record, meaning, user):
    return signatures.sign(session, record, meaning=meaning, user=user, password=PASSWORD)


def test_a_version_needs_an_author_and_a_different_qa_approver_and_then_is_locked(db_session, line):
    version = masters.new_mbr_version(db_session, line.version.master, change_summary="Longer expansion")
    assert version.number == 2 and version.status == MbrStatus.DRAFT
    assert [step.title for step in version.steps] == [step.title for step in line.version.steps]
    sign(db_session, version, SignatureMeaning.AUTHORED, line.qa)
    assert version.status == MbrStatus.IN_REVIEW
    with pytest.raises(SamePersonRefused):
        sign(db_session, version, SignatureMeaning.APPROVED, line.qa)
    with pytest.raises(versioning_errors.VersionNotDraft, match="only a draft can change"):
        masters.add_step(
            db_session,
            version,
            masters.StepDesignInput(stage="Expansion", title="Feed", instruction="Feed the culture."),
        )
    with pytest.raises(versioning_errors.VersionNotApproved, match="Only an approved version becomes effective"):
        versioning.make_effective(db_session, version)


def test_a_version_without_release_tests_cannot_go_to_review(db_session, line):
    version = masters.create_master(db_session, code="tcr-002", product="TCR-T", change_summary="First")
    masters.add_step(
        db_session, version, masters.StepDesignInput(stage="Harvest", title="Harvest", instruction="Harvest.")
    )
    with pytest.raises(MbrIncomplete):
        sign(db_session, version, SignatureMeaning.AUTHORED, line.author)
    assert version.master.code == "TCR-002" and version.status == MbrStatus.DRAFT


def test_a_version_naming_no_step_where_qc_samples_are_taken_cannot_go_to_review(db_session, line):
    version = masters.create_master(db_session, code="tcr-003", product="TCR-T", change_summary="First")
    step = masters.add_step(
        db_session, version, masters.StepDesignInput(stage="Harvest", title="Harvest", instruction="Harvest.")
    )
    masters.add_release_test(db_session, version, line.version.release_tests[0].definition)
    with pytest.raises(MbrIncomplete, match="names no step where QC samples are taken"):
        sign(db_session, version, SignatureMeaning.AUTHORED, line.author)
    masters.update_step(
        db_session,
        step,
        masters.StepDesignInput(stage="Harvest", title="Harvest", instruction="Harvest.", qc_sampling=True),
        reason="QC samples at harvest",
    )
    sign(db_session, version, SignatureMeaning.AUTHORED, line.author)
    assert version.status == MbrStatus.IN_REVIEW


def test_step_and_parameter_designs_are_checked(db_session, line):
    version = masters.create_master(db_session, code="TCR-003", product="TCR-T", change_summary="First")
    with pytest.raises(YieldDesignRefused, match="need the theoretical yield"):
        masters.add_step(
            db_session,
            version,
            masters.StepDesignInput(
                stage="Harvest", title="Harvest", instruction="Harvest.", yield_minimum_percent=Decimal(50)
            ),
        )
    with pytest.raises(YieldDesignRefused, match="minimum yield is above the maximum"):
        masters.add_step(
            db_session,
            version,
            masters.StepDesignInput(
                stage="Harvest",
                title="Harvest",
                instruction="Harvest.",
                theoretical_yield=parse_measurement("1e9 cells"),
                yield_minimum_percent=Decimal(90),
                yield_maximum_percent=Decimal(60),
            ),
        )
    step = masters.add_step(
        db_session,
        version,
        masters.StepDesignInput(
            stage="Harvest", title="Harvest", instruction="Harvest.", equipment_types=(EquipmentType.CENTRIFUGE,)
        ),
    )
    with pytest.raises(ParameterUnitsDisagree):
        masters.add_parameter(db_session, step, name="Spin", unit="g", limit="300–400 mL")
    masters.add_parameter(db_session, step, name="Spin temperature", unit="degC", limit="2–8 °C")
    with pytest.raises(AlreadyExists):
        masters.add_parameter(db_session, step, name="spin temperature", unit="°C")
    with pytest.raises(NotAnAmount):
        masters.add_material_requirement(db_session, step, material=line.medium, quantity=parse_measurement("4 °C"))


def test_a_change_to_the_master_record_leaves_a_batch_in_progress_untouched(db_session, line, batch):
    before = [step.describe() for step in batch.steps]
    version = masters.new_mbr_version(db_session, line.version.master, change_summary="Tighter volume limits")
    receipt = version.steps[0]
    masters.update_step(
        db_session,
        receipt,
        masters.StepDesignInput(
            stage=receipt.stage,
            title="Receive and inspect apheresis bag",
            instruction="New instruction.",
            second_person_verification=True,
        ),
        reason="Clarified instruction",
    )
    masters.add_parameter(db_session, receipt, name="Bag weight", unit="g", limit="100–400 g")
    sign(db_session, version, SignatureMeaning.AUTHORED, line.author)
    sign(db_session, version, SignatureMeaning.APPROVED, line.qa)
    versioning.make_effective(db_session, version)
    db_session.expire_all()

    assert line.version.status == MbrStatus.RETIRED and version.status == MbrStatus.EFFECTIVE
    assert [step.describe() for step in batch.steps] == before
    assert batch.mbr_label == "CART-001 v1" and batch.steps[0].title == "Receive apheresis bag"
    new_batch = batches.start_batch(
        db_session,
        version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 000020 H",
        user=line.operator,
    )
    assert new_batch.steps[0].title == "Receive and inspect apheresis bag"
    assert [parameter.name for parameter in new_batch.steps[0].parameters][-1] == "Bag weight"


def test_a_batch_is_made_only_to_the_effective_version(db_session, line):
    draft = masters.new_mbr_version(db_session, line.version.master, change_summary="Draft")
    with pytest.raises(versioning_errors.VersionNotEffective, match="effective version only"):
        batches.start_batch(
            db_session, draft, subject=line.subject, starting_material_identity="W1234 26 000090 Q", user=line.operator
        )
    versioning.withdraw(db_session, line.version, reason="Product discontinued")
    with pytest.raises(versioning_errors.VersionNotEffective):
        batches.start_batch(
            db_session,
            line.version,
            subject=line.subject,
            starting_material_identity="W1234 26 000090 Q",
            user=line.operator,
        )


def test_the_chain_of_identity_reads_both_ways(db_session, line, batch):
    second = batches.start_batch(
        db_session,
        line.version,
        subject=line.subject,
        starting_material_identity="W1234 26 999999 1",
        user=line.operator,
    )
    other = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W5678 26 000001 D",
        user=line.operator,
    )
    assert batch.subject.code == "HLX301-DE01-0001"
    assert batch.chain_of_identity == (
        f"Subject HLX301-DE01-0001 (HLX-301) · starting material W1234 26 123456 7 · batch {batch.batch_number}"
    )
    assert batches.batches_of_subject(db_session, line.subject) == [batch, second]
    assert [record.label for record in subjects_service.records_of_subject(db_session, line.subjects[1])] == [
        f"{other.batch_number} from W5678 26 000001 D"
    ]
    with pytest.raises(StartingMaterialUsed):
        batches.start_batch(
            db_session,
            line.version,
            subject=line.subjects[1],
            starting_material_identity="w1234 26 123456 7",
            user=line.operator,
        )
