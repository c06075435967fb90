"""A ClinicalTrials.gov record round-trips: what the import reports as mapped is what the protocol keeps, whole."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from lims.cli import cli
from lims.identity.models import RoleName
from protocols.ctgov.parse import parse_study
from protocols.ctgov.study import ImportedStudy
from protocols.errors import TextTooLong
from protocols.models import Protocol, ProtocolIntervention
from protocols.service import protocols as protocol_service
from tests.helpers import csrf_token_from
from tests.protocols.ctgov.records import api_study, reference_record
from tests.protocols.test_import import upload

# NCT01220531 is an expanded-access study, which the lab does not serve: its refusal is tested elsewhere.
IMPORTABLE_RECORDS = ["NCT02552212.api-v2.json", "NCT01298141.legacy.xml", "NCT02654730.legacy.xml"]


def _stored(db_session, protocol_id: int) -> Protocol:
    db_session.expire_all()
    return db_session.get(Protocol, protocol_id)


def _assert_keeps_every_mapped_field(protocol: Protocol, study: ImportedStudy) -> None:
    assert protocol.nct_id == study.nct_id
    assert protocol.title == (study.official_title or study.brief_title)
    assert protocol.registry_brief_title == study.brief_title
    assert protocol.registry_acronym == study.acronym
    assert protocol.phase == study.phase
    assert protocol.registry_lead_sponsor == study.sponsor
    assert protocol.registry_collaborator_names == list(study.collaborators)
    assert protocol.registry_overall_status == study.overall_status
    assert protocol.conditions == ("; ".join(study.conditions) or None)
    assert protocol.target_enrolment == study.enrollment
    assert protocol.registry_enrolment_type == study.enrollment_type
    assert [(i.kind, i.name, i.description) for i in protocol.interventions] == [
        (i.kind, i.name, i.description) for i in study.interventions
    ]
    assert protocol.investigational_product == ", ".join(i.name for i in study.interventions)
    arms = protocol.versions[0].arms
    assert [arm.name for arm in arms] == [arm.label for arm in study.arms]
    assert [arm.arm_type for arm in arms] == [
        (arm.arm_type or "").replace("_", " ").lower() or None for arm in study.arms
    ]
    for stored, imported in zip(arms, study.arms, strict=True):
        assert imported.description is None or imported.description in stored.description
        assert all(name in stored.description for name in imported.intervention_names)


@pytest.mark.parametrize("record", IMPORTABLE_RECORDS)
def test_every_mapped_field_of_a_reference_record_is_stored(db_session, create_organization, record) -> None:
    study = parse_study(reference_record(record))
    protocol = protocol_service.import_study(db_session, study, sponsor=create_organization())
    db_session.commit()

    _assert_keeps_every_mapped_field(_stored(db_session, protocol.id), study)


class _Facts(HTMLParser):
    """The terms and descriptions of the page's registry list, each description's lines (its divs) kept apart."""

    def __init__(self) -> None:
        super().__init__()
        self.facts: dict[str, str] = {}
        self._inside = False
        self._term: str | None = None
        self._open: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "dl" and ("id", "registry-record") in attrs:
            self._inside = True
        elif self._inside and tag in {"dt", "dd"}:
            self._open, self._text = tag, ""
        elif self._inside and tag == "div" and self._text:
            self._text += "\n"

    def handle_endtag(self, tag):
        if tag == "dl":
            self._inside = False
        elif self._inside and tag == "dt":
            self._term = self._text.strip()
        elif self._inside and tag == "dd":
            self.facts[self._term] = self._text.strip()

    def handle_data(self, data):
        if self._inside and self._open:
            self._text += data


def _facts(html: str) -> dict[str, str]:
    parser = _Facts()
    parser.feed(html)
    return parser.facts


def _expected_facts(protocol: Protocol) -> dict[str, str]:
    """The page's mapped list as the stored protocol says it must read."""
    optional = {"Brief title": protocol.registry_brief_title, "Acronym": protocol.registry_acronym}
    enrolment_type = f" ({protocol.registry_enrolment_type.lower()})" if protocol.registry_enrolment_type else ""
    return (
        {"Title": protocol.title}
        | {term: value for term, value in optional.items() if value}
        | {
            "Phase": protocol.phase.value,
            "Lead sponsor": protocol.registry_lead_sponsor,
            "Collaborators": "\n".join(protocol.registry_collaborator_names) or "—",
            "Overall status": protocol.registry_overall_status or "—",
            "Conditions": protocol.conditions or "—",
            "Enrolment": f"{protocol.target_enrolment if protocol.target_enrolment is not None else '—'}"
            f"{enrolment_type}",
            "Interventions": "\n".join(
                f"{i.kind + ': ' if i.kind else ''}{i.name}{' — ' + i.description if i.description else ''}"
                for i in protocol.interventions
            )
            or "—",
            "Arms": "\n".join(
                f"{arm.code} {arm.name}{f' ({arm.arm_type})' if arm.arm_type else ''}"
                f"{': ' + arm.description if arm.description else ''}"
                for arm in protocol.versions[0].arms
            )
            or "none in the record",
        }
    )


@pytest.mark.parametrize("record", IMPORTABLE_RECORDS)
def test_the_imported_page_lists_as_mapped_exactly_what_was_stored(
    client, create_organization, db_session, signed_in, record
) -> None:
    sponsor = create_organization()
    db_session.commit()
    signed_in(RoleName.MANAGER)
    data = reference_record(record)

    response = upload(client, data, record, sponsor_id=str(sponsor.id))

    assert response.status_code == 201
    protocol = _stored(db_session, db_session.scalars(select(Protocol.id)).one())
    facts = _facts(response.text)
    assert facts == _expected_facts(protocol)
    _assert_keeps_every_mapped_field(protocol, parse_study(data))
    page = client.get(f"/protocols/{protocol.id}")
    assert _facts(page.text) == {term: value for term, value in facts.items() if term != "Arms"}


def test_the_protocol_page_shows_what_the_registry_states(client, db_session, create_organization, signed_in) -> None:
    study = parse_study(
        api_study(
            sponsorCollaboratorsModule={
                "leadSponsor": {"name": "Helix Cell Therapeutics"},
                "collaborators": [{"name": "Cancer Research UK"}, {"name": "NIHR"}],
            },
            statusModule={"overallStatus": "RECRUITING"},
            designModule={"phases": ["PHASE3"], "enrollmentInfo": {"count": 120, "type": "ESTIMATED"}},
            armsInterventionsModule={
                "interventions": [{"type": "BIOLOGICAL", "name": "HLX-19", "description": "Autologous CAR-T cells"}]
            },
        )
    )
    protocol = protocol_service.import_study(db_session, study, sponsor=create_organization())
    db_session.commit()
    signed_in(RoleName.QA)

    facts = _facts(client.get(f"/protocols/{protocol.id}").text)

    assert facts["Lead sponsor"] == "Helix Cell Therapeutics"
    assert facts["Collaborators"] == "Cancer Research UK\nNIHR"
    assert facts["Overall status"] == "RECRUITING"
    assert facts["Enrolment"] == "120 (estimated)"
    assert facts["Interventions"] == "BIOLOGICAL: HLX-19 — Autologous CAR-T cells"


# Nothing cut


def _interventions(*names: str) -> dict:
    return {"interventions": [{"type": "BIOLOGICAL", "name": name} for name in names]}


def test_a_long_investigational_product_is_stored_whole(db_session, create_organization) -> None:
    names = [f"Autologous anti-CD19 CAR-T cells, manufacturing process {n} (cryopreserved)" for n in range(1, 6)]
    study = parse_study(api_study(armsInterventionsModule=_interventions(*names)))
    assert len(", ".join(names)) > 300

    protocol = protocol_service.import_study(db_session, study, sponsor=create_organization())
    db_session.commit()

    stored = _stored(db_session, protocol.id)
    assert stored.investigational_product == ", ".join(names)
    assert [intervention.name for intervention in stored.interventions] == names


def test_a_long_product_can_be_edited_on_the_protocol_page(client, db_session, create_organization, signed_in):
    names = [f"Autologous anti-CD19 CAR-T cells, manufacturing process {n} (cryopreserved)" for n in range(1, 6)]
    study = parse_study(api_study(armsInterventionsModule=_interventions(*names)))
    protocol = protocol_service.import_study(db_session, study, sponsor=create_organization())
    db_session.commit()
    signed_in(RoleName.MANAGER)
    page = client.get(f"/protocols/{protocol.id}")
    response = client.post(
        f"/protocols/{protocol.id}/edit",
        data={
            "csrf_token": csrf_token_from(page.text),
            "title": protocol.title,
            "therapeutic_area": "Haematology",
            "investigational_product": ", ".join(names) + ", HLX-20",
            "status": "planning",
            "reason": "Product name completed from the IB",
        },
    )

    assert response.status_code in {302, 303}, response.text
    assert _stored(db_session, protocol.id).investigational_product.endswith("(cryopreserved), HLX-20")


def test_an_arm_label_longer_than_an_arm_name_is_refused_and_nothing_is_created(
    client, db_session, create_organization, signed_in
) -> None:
    label = "Arm " + "x" * 250
    data = api_study(armsInterventionsModule={"armGroups": [{"label": label, "type": "EXPERIMENTAL"}]})
    sponsor = create_organization()
    db_session.commit()
    signed_in(RoleName.MANAGER)

    response = upload(client, data, "record.json", sponsor_id=str(sponsor.id))

    assert response.status_code == 422
    assert "254 characters long; it holds at most 200" in response.text
    db_session.expire_all()
    assert db_session.scalars(select(Protocol)).all() == []
    assert db_session.scalars(select(ProtocolIntervention)).all() == []


def test_a_protocol_number_longer_than_its_column_is_refused_at_the_command_line(
    app, db_session, create_organization, tmp_path
) -> None:
    create_organization(code="SPONSOR", name="Study sponsor")
    db_session.commit()
    record = tmp_path / "record.json"
    record.write_bytes(api_study())

    result = app.test_cli_runner().invoke(
        cli, ["protocol", "import-ctgov", str(record), "--sponsor", "SPONSOR", "--number", "P" * 65]
    )

    assert result.exit_code == 1 and "65 characters long; it holds at most 64" in result.output
    db_session.expire_all()
    assert db_session.scalars(select(Protocol)).all() == []


def test_a_long_acronym_is_kept_and_the_nct_id_numbers_the_protocol(db_session, create_organization) -> None:
    acronym = "HELIX-19 CAR-T in relapsed DLBCL"
    study = parse_study(
        api_study(identificationModule={"nctId": "NCT09999999", "briefTitle": "HLX-19", "acronym": acronym})
    )

    protocol = protocol_service.import_study(db_session, study, sponsor=create_organization())

    assert (protocol.number, protocol.registry_acronym) == ("NCT09999999", acronym)


def test_a_text_longer_than_its_column_is_refused_by_the_service(db_session, create_organization) -> None:
    study = parse_study(api_study())
    with pytest.raises(TextTooLong) as refused:
        protocol_service.import_study(db_session, study, sponsor=create_organization(), number="N" * 70)
    assert refused.value.field == "number"
