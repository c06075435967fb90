"""Master batch records through the pages: registration, design, two-person approval, effect, retirement, change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from batch_records.models import DonorType, MasterBatchRecord, MbrStatus, MbrStep, MbrVersion
from batch_records.service import masters
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.materials import service as materials
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from tests.helpers import (
    PASSWORD,
    csrf_token_from,
    duplicate_ids,
    history_link,
    login,
    submit,
)


@pytest.fixture
def medium(db_session):
    return materials.create_material(
        db_session,
        part_number="MED-001",
        name="TexMACS GMP medium",
        specification="Sterile",
        storage_condition="2–8 °C",
        unit="mL",
    )


@pytest.fixture
def viability(db_session):
    return testing.create_definition(
        db_session,
        code="VIAB",
        name="Viability",
        method="7-AAD flow cytometry",
        result_kind=ResultKind.QUANTITATIVE,
        unit="%",
        specification="≥ 70 %",
    )


@pytest.fixture
def draft(db_session, viability) -> MbrVersion:
    """A draft with one step (one parameter) and one release test: ready to be signed by its author."""
    version = masters.create_master(
        db_session, code="CART-001", product="HLX-19 autologous anti-CD19 CAR-T", change_summary="First issue"
    )
    step = masters.add_step(
        db_session,
        version,
        masters.StepDesignInput(
            stage="Starting-material receipt",
            title="Receive apheresis bag",
            instruction="Check the label against the chain-of-identity record.",
            qc_sampling=True,
        ),
    )
    masters.add_parameter(db_session, step, name="Volume", unit="mL", limit="50–300 mL")
    masters.add_release_test(db_session, version, viability)
    return version


@pytest.fixture
def people(create_user):
    return create_user(RoleName.MANAGER, full_name="Maja Larsen"), create_user(RoleName.QA, full_name="Quinn Okafor")


def sign(db_session, version, meaning, user):
    signatures.sign(db_session, version, meaning=meaning, user=user, password=PASSWORD)


def version_url(version) -> str:
    return f"/mbr-versions/{version.id}"


def reload(db_session, model, record_id):
    db_session.expire_all()
    return db_session.get(model, record_id)


def test_manager_registers_a_master_and_designs_its_draft(client, db_session, medium, viability, signed_in):
    signed_in(RoleName.MANAGER)
    created = submit(
        client,
        "/masters/new",
        {
            "code": "cart-001",
            "product": "HLX-19 autologous anti-CD19 CAR-T",
            "donor_type": "autologous",
            "change_summary": "First issue",
        },
    )
    assert created.status_code == 303
    url = created.headers["Location"]
    version = db_session.scalars(select(MbrVersion)).one()
    assert url == version_url(version) and version.master.code == "CART-001" and version.status == MbrStatus.DRAFT

    step = submit(
        client,
        url,
        {
            "stage": "Harvest",
            "title": "Harvest and count",
            "instruction": "Harvest the cells.\nCount them twice.",
            "second_person_verification": "on",
            "hold_point": "on",
            "qc_sampling": "on",
            "equipment_types": ["biosafety cabinet", "cell counter"],
            "theoretical_yield": "2e9 cells",
            "yield_minimum_percent": "50",
            "yield_maximum_percent": "150",
        },
        action=url + "/steps",
    )
    assert step.status_code == 303, step.text
    step_id = db_session.scalars(select(MbrStep.id)).one()
    assert (
        submit(
            client,
            url,
            {
                "step_id": str(step_id),
                "name": "Viable cell concentration",
                "unit": "cells/mL",
                "target": "2e6",
                "limit": "≥ 1e6 cells/mL",
            },
            action=url + "/parameters",
        ).status_code
        == 303
    )
    assert (
        submit(
            client,
            url,
            {"step_id": str(step_id), "name": "Remarks count", "unit": "", "optional": "on"},
            action=url + "/parameters",
        ).status_code
        == 303
    )
    assert (
        submit(
            client,
            url,
            {"step_id": str(step_id), "material_id": str(medium.id), "quantity": "250 mL"},
            action=url + "/materials",
        ).status_code
        == 303
    )
    assert submit(client, url, {"definition_id": str(viability.id)}, action=url + "/release-tests").status_code == 303

    page = client.get(url).text
    assert duplicate_ids(page) == []
    for shown in (
        "Harvest</h3>",
        "Step 1. Harvest and count",
        "Harvest the cells.<br>Count them twice.",
        "Second-person verification",
        "Hold point",
        "QC release samples",
        "biosafety cabinet, cell counter",
        "MED-001 TexMACS GMP medium: 250 mL",
        "Viable cell concentration",
        "cells/mL",
        "≥ 1e6 cells/mL",
        "Remarks count",
        "optional",
        "acceptable 50–150 %",
        "VIAB",
        "≥ 70 %",
        "Sign as author and send for review",
    ):
        assert shown in page, shown
    assert "Skippable</span>" not in page
    stored = reload(db_session, MbrStep, step_id)
    assert stored.yield_minimum_percent == Decimal(50) and [p.required for p in stored.parameters] == [True, False]
    assert stored.parameters[0].target == parse_measurement("2e6 cells/mL")


def test_steps_are_shown_by_stage_in_their_order(client, db_session, draft, signed_in):
    masters.add_step(
        db_session, draft, masters.StepDesignInput(stage="Expansion", title="Seed the bioreactor", instruction="Seed.")
    )
    masters.add_step(
        db_session, draft, masters.StepDesignInput(stage="Expansion", title="Feed", instruction="Feed.", skippable=True)
    )
    signed_in(RoleName.TECHNICIAN)
    page = client.get(version_url(draft)).text
    positions = [
        page.index(text)
        for text in (
            "Starting-material receipt</h3>",
            "Step 1. Receive apheresis bag",
            "Expansion</h3>",
            "Step 2. Seed the bioreactor",
            "Step 3. Feed",
        )
    ]
    assert positions == sorted(positions)
    assert page.count("Expansion</h3>") == 1 and "Skippable" in page


def test_a_unit_or_limit_that_does_not_fit_is_refused_at_its_field(client, db_session, draft, signed_in):
    signed_in(RoleName.MANAGER)
    url = version_url(draft)
    step_id = draft.steps[0].id
    unknown = submit(
        client, url, {"step_id": str(step_id), "name": "Temperature", "unit": "zorks"}, action=url + "/parameters"
    )
    assert unknown.status_code == 422
    assert 'id="parameter-unit-error"' in unknown.text and "Unknown unit" in unknown.text
    assert 'href="#parameter-unit"' in unknown.text, "the error summary links to the field"
    mismatched = submit(
        client,
        url,
        {"step_id": str(step_id), "name": "Temperature", "unit": "°C", "limit": "≥ 5 mL"},
        action=url + "/parameters",
    )
    assert mismatched.status_code == 422
    assert 'id="parameter-limit-error"' in mismatched.text and "must agree" in mismatched.text
    not_a_limit = submit(
        client,
        url,
        {"step_id": str(step_id), "name": "Temperature", "unit": "°C", "target": "warm"},
        action=url + "/parameters",
    )
    assert not_a_limit.status_code == 422 and 'id="parameter-target-error"' in not_a_limit.text
    assert [parameter.name for parameter in reload(db_session, MbrStep, step_id).parameters] == ["Volume"]


def test_a_step_is_refused_without_its_instruction_or_with_yield_limits_alone(client, db_session, draft, signed_in):
    signed_in(RoleName.MANAGER)
    url = version_url(draft)
    missing = submit(client, url, {"stage": "Harvest", "title": "Harvest"}, action=url + "/steps")
    assert missing.status_code == 422 and "Write the instruction the operator follows." in missing.text
    assert 'id="step-instruction-error"' in missing.text
    limits_alone = submit(
        client,
        url,
        {"stage": "Harvest", "title": "Harvest", "instruction": "Harvest.", "yield_minimum_percent": "50"},
        action=url + "/steps",
    )
    assert limits_alone.status_code == 422 and "theoretical yield" in limits_alone.text
    not_a_number = submit(
        client,
        url,
        {
            "stage": "Harvest",
            "title": "Harvest",
            "instruction": "Harvest.",
            "theoretical_yield": "1e9 cells",
            "yield_minimum_percent": "half",
        },
        action=url + "/steps",
    )
    assert not_a_number.status_code == 422 and "number of percent" in not_a_number.text
    assert len(reload(db_session, MbrVersion, draft.id).steps) == 1


def test_a_duplicate_code_or_a_missing_summary_is_refused(client, db_session, draft, signed_in):
    signed_in(RoleName.MANAGER)
    duplicate = submit(
        client,
        "/masters/new",
        {"code": "CART-001", "product": "Other", "donor_type": "autologous", "change_summary": "x"},
    )
    assert duplicate.status_code == 409 and "already exists" in duplicate.text
    missing = submit(client, "/masters/new", {"code": "CART-002", "product": "Other", "donor_type": "allogeneic"})
    assert missing.status_code == 422 and "Say what the first version is for" in missing.text
    assert len(db_session.scalars(select(MasterBatchRecord)).all()) == 1


def test_staff_read_but_only_managers_design(client, db_session, draft, medium, signed_in):
    signed_in(RoleName.TECHNICIAN)
    url = version_url(draft)
    assert "CART-001" in client.get("/masters").text
    page = client.get(url).text
    assert "Receive apheresis bag" in page and "Add a step" not in page and "Sign as author" not in page
    assert 'href="/mbr-steps/' not in page
    assert client.get("/masters/new").status_code == 403
    step_id = draft.steps[0].id
    for action, data in (
        (url + "/steps", {"stage": "x", "title": "x", "instruction": "x"}),
        (url + "/parameters", {"step_id": str(step_id), "name": "x"}),
        (url + "/materials", {"step_id": str(step_id), "material_id": str(medium.id), "quantity": "1 mL"}),
        (url + "/release-tests", {"definition_id": "1"}),
        (url + "/effective", {}),
        (url + "/retire", {"reason": "x"}),
        (url + "/new-version", {"change_summary": "x"}),
        (url + "/donor-type", {"donor_type": "allogeneic", "reason": "x"}),
    ):
        assert submit(client, url, data, action=action).status_code == 403, action
    assert client.get(f"/mbr-steps/{step_id}/edit").status_code == 403
    assert len(reload(db_session, MbrVersion, draft.id).steps) == 1


def test_editing_a_step_needs_a_reason_which_the_audit_trail_keeps(client, db_session, draft, signed_in):
    signed_in(RoleName.MANAGER)
    step_id = draft.steps[0].id
    url = f"/mbr-steps/{step_id}/edit"
    form = client.get(url).text
    assert 'value="Receive apheresis bag"' in form and duplicate_ids(form) == []
    changed = {
        "stage": "Starting-material receipt",
        "title": "Receive and inspect the apheresis bag",
        "instruction": "Check the label.",
        "second_person_verification": "on",
    }
    refused = submit(client, url, changed)
    assert refused.status_code == 422 and "Give the reason for this change" in refused.text
    assert reload(db_session, MbrStep, step_id).title == "Receive apheresis bag"
    saved = submit(client, url, {**changed, "reason": "Inspection added after audit finding 12"})
    assert saved.status_code == 303 and saved.headers["Location"] == version_url(draft)
    step = reload(db_session, MbrStep, step_id)
    assert step.title == "Receive and inspect the apheresis bag" and step.second_person_verification
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "mbr_step", AuditEvent.action == "update")
    ).one()
    assert event.reason == "Inspection added after audit finding 12"


def test_a_version_in_review_refuses_every_design_change(
    client, db_session, draft, people, medium, viability, signed_in
):
    author, _qa = people
    sign(db_session, draft, SignatureMeaning.AUTHORED, author)
    signed_in(RoleName.MANAGER)
    url = version_url(draft)
    step_id = draft.steps[0].id
    page = client.get(url).text
    assert "In review" in page and "can no longer change" in page and "Add a step" not in page
    for action, data in (
        (url + "/steps", {"stage": "Harvest", "title": "Late", "instruction": "x"}),
        (url + "/parameters", {"step_id": str(step_id), "name": "pH", "unit": ""}),
        (url + "/materials", {"step_id": str(step_id), "material_id": str(medium.id), "quantity": "1 mL"}),
        (url + "/donor-type", {"donor_type": "allogeneic", "reason": "Late change"}),
    ):
        response = submit(client, url, data, action=action)
        assert response.status_code == 409 and "only a draft can change" in response.text, action
    edit_url = f"/mbr-steps/{step_id}/edit"
    assert "only a draft can change" in client.get(edit_url).text
    refused = client.post(
        edit_url,
        data={
            "csrf_token": csrf_token_from(client.get(url).text),
            "stage": "x",
            "title": "Changed",
            "instruction": "x",
            "reason": "Late change",
        },
    )
    assert refused.status_code == 409 and "only a draft can change" in refused.text
    version = reload(db_session, MbrVersion, draft.id)
    assert len(version.steps) == 1 and version.steps[0].title == "Receive apheresis bag"
    assert [parameter.name for parameter in version.steps[0].parameters] == ["Volume"]
    assert version.steps[0].materials == []
    assert version.donor_type == DonorType.AUTOLOGOUS
    assert signatures.signers_with_meaning(db_session, version, SignatureMeaning.AUTHORED) == [author.id]


def test_author_signs_qa_approves_and_the_version_goes_into_effect(app, client, db_session, draft, people):
    author, qa = people
    db_session.commit()
    url = version_url(draft)
    login(client, author)
    signed = submit(client, f"/sign/mbr_version/{draft.id}/authored?next={url}", {"password": PASSWORD, "next": url})
    assert signed.status_code == 303 and signed.headers["Location"] == url
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.IN_REVIEW
    early = submit(client, url, {}, action=url + "/effective")
    assert early.status_code == 409 and "Only an approved version" in early.text

    qa_client = app.test_client()
    login(qa_client, qa)
    listing = qa_client.get("/masters").text
    assert "Waiting for QA approval (1)" in listing and "CART-001 v1" in listing
    review = qa_client.get(url).text
    assert "Approve (QA)" in review and "Reject back to draft (QA)" in review and "Maja Larsen" in review
    assert submit(qa_client, f"/sign/mbr_version/{draft.id}/approved", {"password": PASSWORD}).status_code == 303
    assert "Waiting for QA approval" not in qa_client.get("/masters").text
    made = submit(qa_client, url, {}, action=url + "/effective")
    assert made.status_code == 303
    page = qa_client.get(url).text
    assert "Effective" in page and "Maja Larsen" in page and "Quinn Okafor" in page and "Retire this version" in page
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.EFFECTIVE


def test_signing_a_draft_without_a_qc_sampling_step_is_refused_with_the_reason(client, db_session, draft, people):
    author, _qa = people
    (step,) = draft.steps
    masters.update_step(
        db_session,
        step,
        masters.StepDesignInput(stage=step.stage, title=step.title, instruction=step.instruction),
        reason="QC samples moved",
    )
    db_session.commit()
    login(client, author)
    refused = client.get(f"/sign/mbr_version/{draft.id}/authored")
    assert refused.status_code == 422 and "names no step where QC samples are taken" in refused.text
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.DRAFT


def test_qa_rejects_a_version_back_to_draft(app, client, db_session, draft, people):
    author, qa = people
    sign(db_session, draft, SignatureMeaning.AUTHORED, author)
    db_session.commit()
    login(client, qa)
    assert submit(client, f"/sign/mbr_version/{draft.id}/rejected", {"password": PASSWORD}).status_code == 303
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.DRAFT
    assert "Rejected" in client.get(version_url(draft)).text


def test_the_author_cannot_approve_their_own_version(client, db_session, draft, create_user):
    both = create_user(RoleName.MANAGER, RoleName.QA)
    sign(db_session, draft, SignatureMeaning.AUTHORED, both)
    db_session.commit()
    login(client, both)
    page = client.get(version_url(draft)).text
    assert "Approve (QA)" not in page and "Waiting for QA's approval, by someone other than the author." in page
    assert "Reject back to draft (QA)" not in page
    refused = client.get(f"/sign/mbr_version/{draft.id}/approved")
    assert refused.status_code == 403 and "different person" in refused.text
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.IN_REVIEW


def test_retiring_needs_a_reason_and_a_new_version_copies_the_design(client, db_session, draft, people, signed_in):
    author, qa = people
    sign(db_session, draft, SignatureMeaning.AUTHORED, author)
    sign(db_session, draft, SignatureMeaning.APPROVED, qa)
    versioning.make_effective(db_session, draft)
    signed_in(RoleName.MANAGER)
    url = version_url(draft)
    no_reason = submit(client, url, {"reason": " "}, action=url + "/retire")
    assert no_reason.status_code == 422 and "Give the reason for retiring" in no_reason.text
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.EFFECTIVE
    retired = submit(client, url, {"reason": "Product discontinued by the sponsor"}, action=url + "/retire")
    assert retired.status_code == 303
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.RETIRED
    assert "Retired" in client.get(url).text

    no_summary = submit(client, url, {"change_summary": ""}, action=url + "/new-version")
    assert no_summary.status_code == 422 and "Summarise what the new version changes" in no_summary.text
    drafted = submit(client, url, {"change_summary": "Adds a wash step"}, action=url + "/new-version")
    assert drafted.status_code == 303
    second = reload(db_session, MasterBatchRecord, draft.master_id).versions[-1]
    assert drafted.headers["Location"] == version_url(second)
    assert second.number == 2 and second.status == MbrStatus.DRAFT
    assert [step.title for step in second.steps] == ["Receive apheresis bag"]
    page = client.get(version_url(second)).text
    assert "Add a step" in page and "Adds a wash step" in page and "Start a new version" not in page
    again = submit(client, url, {"change_summary": "Another"}, action=url + "/new-version")
    assert again.status_code == 409 and "already has a version in draft or review" in again.text


def test_making_a_draft_effective_is_refused(client, db_session, draft, signed_in):
    signed_in(RoleName.QA)
    url = version_url(draft)
    refused = submit(client, url, {}, action=url + "/effective")
    assert refused.status_code == 409 and "Only an approved version" in refused.text
    assert reload(db_session, MbrVersion, draft.id).status == MbrStatus.DRAFT


def test_a_step_of_another_version_or_an_unknown_version_is_refused(client, db_session, draft, medium, signed_in):
    other = masters.create_master(db_session, code="CART-002", product="Other", change_summary="First issue")
    signed_in(RoleName.MANAGER)
    url = version_url(other)
    foreign_step = draft.steps[0]
    for action, form in (
        ("/parameters", {"name": "pH", "unit": ""}),
        ("/materials", {"material_id": str(medium.id), "quantity": "250 mL"}),
    ):
        response = submit(client, url, {"step_id": str(foreign_step.id), **form}, action=url + action)
        assert response.status_code == 404
        assert f"CART-002 v1 has no step with id {foreign_step.id}." in response.text
    db_session.expire_all()
    assert "pH" not in [parameter.name for parameter in foreign_step.parameters] and foreign_step.materials == []
    assert client.get("/mbr-versions/999999").status_code == 404
    assert client.get("/mbr-steps/999999/edit").status_code == 404


def test_navigation_offers_master_records_to_staff(client, signed_in):
    signed_in(RoleName.TECHNICIAN)
    page = client.get("/").text
    assert 'href="/masters"' in page and 'href="/test-definitions"' in page


@pytest.mark.parametrize(
    ("role", "sees_history"),
    [(RoleName.QA, True), (RoleName.ADMIN, True), (RoleName.TECHNICIAN, False), (RoleName.MANAGER, False)],
)
def test_a_version_page_links_to_its_history_for_those_who_read_the_trail(
    role, sees_history, client, db_session, draft, signed_in
):
    signed_in(role)
    page = client.get(version_url(draft)).text
    assert "Receive apheresis bag" in page
    assert (history_link("mbr_version", draft.id, with_parts=True) in page) is sees_history
    assert ("History of this version: who changed what, when and why" in page) is sees_history


def test_a_product_is_registered_autologous_or_allogeneic_and_nothing_else(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    form = client.get("/masters/new").text
    assert 'name="donor_type"' in form and "Allogeneic: made from a donor" in form and duplicate_ids(form) == []
    fields = {"code": "ALLO-01", "product": "Off-the-shelf anti-CD19 CAR-NK", "change_summary": "First issue"}
    for donor_type, message in (
        (None, "Say whether the product is autologous or allogeneic."),
        ("xenogeneic", "Choose autologous or allogeneic."),
        ("", "Choose autologous or allogeneic."),
    ):
        data = fields if donor_type is None else {**fields, "donor_type": donor_type}
        refused = submit(client, "/masters/new", data)
        assert refused.status_code == 422 and message in refused.text, donor_type
    assert db_session.scalars(select(MasterBatchRecord)).all() == []

    created = submit(client, "/masters/new", {**fields, "donor_type": "allogeneic"})
    assert created.status_code == 303
    version = db_session.scalars(select(MbrVersion)).one()
    assert version.donor_type == DonorType.ALLOGENEIC
    assert "Off-the-shelf anti-CD19 CAR-NK (allogeneic)" in client.get(created.headers["Location"]).text


def test_a_drafts_donor_type_changes_with_a_reason_and_its_signatures_cover_it(
    client, db_session, draft, people, signed_in
):
    signed_in(RoleName.MANAGER)
    url = version_url(draft)
    page = client.get(url).text
    assert "HLX-19 autologous anti-CD19 CAR-T (autologous)" in page and duplicate_ids(page) == []
    unhashed = signatures.content_hash(draft)
    no_reason = submit(client, url, {"donor_type": "allogeneic", "reason": " "}, action=url + "/donor-type")
    assert no_reason.status_code == 422 and "Give the reason for this change" in no_reason.text
    assert 'href="#donor-reason"' in no_reason.text
    assert reload(db_session, MbrVersion, draft.id).donor_type == DonorType.AUTOLOGOUS
    changed = submit(
        client, url, {"donor_type": "allogeneic", "reason": "Donor-derived line"}, action=url + "/donor-type"
    )
    assert changed.status_code == 303
    version = reload(db_session, MbrVersion, draft.id)
    assert version.donor_type == DonorType.ALLOGENEIC
    [event] = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "mbr_version", AuditEvent.action == "update")
    ).all()
    assert event.reason == "Donor-derived line" and "allogeneic" in event.changes
    # The approval covers it; an autologous design hashes as before the donor type existed.
    assert signatures.content_hash(version) != unhashed

    author, qa = people
    sign(db_session, version, SignatureMeaning.AUTHORED, author)
    sign(db_session, version, SignatureMeaning.APPROVED, qa)
    versioning.make_effective(db_session, version)
    second = masters.new_mbr_version(db_session, version.master, change_summary="Adds a wash step")
    assert second.donor_type == DonorType.ALLOGENEIC
