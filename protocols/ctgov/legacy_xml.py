"""Read a ClinicalTrials.gov legacy ``clinical_study`` XML record, through defusedxml."""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree import ElementTree

import defusedxml
import defusedxml.ElementTree as SafeElementTree

from lims.inputs import STORABLE_INTEGERS
from protocols.ctgov.errors import CtgovImportError
from protocols.ctgov.study import (
    ImportedArm,
    ImportedIntervention,
    ImportedStudy,
    checked_nct_id,
    refuse_earlier_phase,
    required,
    unknown_phase,
)
from protocols.ctgov.unmapped import (
    MESH_TERMS,
    OTHER_INTERVENTION_NAMES,
    STUDY_DATES,
    counted,
    distinct,
    outcome_measures,
    valued,
)
from protocols.models import ProtocolPhase

LEGACY_XML = "ClinicalTrials.gov legacy XML"


def read_legacy_xml(content: bytes, subject: str) -> ImportedStudy:
    """Read the record ``content`` holds; ``subject`` names the file in messages."""
    return _parse_legacy_xml(_load_xml(content, subject))


def _load_xml(content: bytes, subject: str) -> ElementTree.Element:
    try:
        root = SafeElementTree.fromstring(content, forbid_dtd=True)
    except ElementTree.ParseError as error:
        raise CtgovImportError(f"{subject} is not well-formed XML ({error}).") from None
    except defusedxml.DefusedXmlException:
        raise CtgovImportError(
            f"{subject} declares a DTD or entities, which ClinicalTrials.gov records never do; it was not read."
        ) from None
    if root.tag != "clinical_study":
        raise CtgovImportError(
            f"{subject} is XML with root <{root.tag}>, not a ClinicalTrials.gov <clinical_study> record."
        )
    return root


_XML_PHASES = {
    "Phase 2/Phase 3": ProtocolPhase.PHASE_2_3,
    "Phase 3": ProtocolPhase.PHASE_3,
    "Phase 4": ProtocolPhase.PHASE_4,
}
_XML_EARLIER_PHASES = frozenset({"Early Phase 1", "Phase 1", "Phase 1/Phase 2", "Phase 2"})
_XML_NO_PHASE = "N/A"

_XML_READ = frozenset(
    {
        "id_info",
        "brief_title",
        "official_title",
        "acronym",
        "sponsors",
        "overall_status",
        "phase",
        "enrollment",
        "condition",
        "arm_group",
        "intervention",
    }
)
# number_of_arms only restates how many arm_group elements there are.
_XML_REDUNDANT = frozenset({"number_of_arms"})
_XML_OUTCOMES = ("primary_outcome", "secondary_outcome", "other_outcome")
_XML_WHOLE_ELEMENTS = {
    "required_header": "download header",
    "oversight_info": "oversight",
    "brief_summary": "brief summary",
    "detailed_description": "detailed description",
    "why_stopped": "why stopped",
    "expanded_access_info": "expanded access info",
    "eligibility": "eligibility criteria",
    "overall_contact": "central contact",
    "overall_contact_backup": "backup contact",
    "location_countries": "location countries",
    "removed_countries": "removed countries",
    "responsible_party": "responsible party",
    "condition_browse": MESH_TERMS,
    "intervention_browse": MESH_TERMS,
    "patient_data": "IPD sharing statement",
    "provided_document_section": "documents",
    "clinical_results": "results section",
    "pending_results": "pending results",
}
_XML_REPEATED_ELEMENTS = {
    "keyword": "keywords",
    "overall_official": "overall officials",
    "location": "locations",
    "reference": "references",
    "results_reference": "result references",
    "link": "links",
}
_XML_VALUED_ELEMENTS = {
    "source": "source",
    "study_type": "study type",
    "has_expanded_access": "has expanded access",
    "last_known_status": "last known status",
}


def _parse_legacy_xml(root: ElementTree.Element) -> ImportedStudy:
    nct_id = checked_nct_id(_xml_text(root, "id_info/nct_id"))
    phase = _xml_phase(nct_id, root)
    interventions = tuple(_xml_intervention(element, nct_id) for element in root.findall("intervention"))
    arms = (_xml_arm(element, nct_id) for element in root.findall("arm_group"))
    enrollment = root.find("enrollment")
    return ImportedStudy(
        nct_id=nct_id,
        brief_title=required(_xml_text(root, "brief_title"), "brief title", nct_id),
        official_title=_xml_text(root, "official_title"),
        acronym=_xml_text(root, "acronym"),
        phase=phase,
        sponsor=required(_xml_text(root, "sponsors/lead_sponsor/agency"), "lead sponsor", nct_id),
        collaborators=_xml_texts(root, "sponsors/collaborator/agency"),
        conditions=_xml_texts(root, "condition"),
        arms=_arms_with_interventions_named(arms, interventions),
        interventions=interventions,
        enrollment=_xml_enrollment(root, nct_id),
        enrollment_type=enrollment.get("type") if enrollment is not None else None,
        overall_status=_xml_text(root, "overall_status"),
        source_format=LEGACY_XML,
        unmapped=_xml_unmapped(root),
    )


def _xml_text(element: ElementTree.Element, path: str) -> str | None:
    text = (element.findtext(path) or "").strip()
    return text or None


def _xml_texts(element: ElementTree.Element, path: str) -> tuple[str, ...]:
    return tuple(text for child in element.findall(path) if (text := (child.text or "").strip()))


def _xml_enrollment(root: ElementTree.Element, nct_id: str) -> int | None:
    text = _xml_text(root, "enrollment")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise CtgovImportError(f"The record {nct_id} gives enrollment “{text}”, which is not a whole number.")
    if int(text) not in STORABLE_INTEGERS:
        raise CtgovImportError(f"The record {nct_id} gives enrollment {text}, beyond {STORABLE_INTEGERS[-1]}.")
    return int(text)


def _xml_phase(nct_id: str, root: ElementTree.Element) -> ProtocolPhase:
    phase = _xml_text(root, "phase")
    if phase in _XML_PHASES:
        return _XML_PHASES[phase]
    if phase is None or phase == _XML_NO_PHASE:
        raise refuse_earlier_phase(nct_id, None, _xml_text(root, "study_type"))
    if phase in _XML_EARLIER_PHASES:
        raise refuse_earlier_phase(nct_id, phase, None)
    raise unknown_phase(nct_id, phase)


def _xml_arm(element: ElementTree.Element, nct_id: str) -> ImportedArm:
    return ImportedArm(
        label=required(_xml_text(element, "arm_group_label"), "arm label", nct_id),
        arm_type=_xml_text(element, "arm_group_type"),
        description=_xml_text(element, "description"),
        intervention_names=(),
    )


def _xml_intervention(element: ElementTree.Element, nct_id: str) -> ImportedIntervention:
    return ImportedIntervention(
        kind=_xml_text(element, "intervention_type"),
        name=required(_xml_text(element, "intervention_name"), "intervention name", nct_id),
        description=_xml_text(element, "description"),
        arm_labels=_xml_texts(element, "arm_group_label"),
    )


def _xml_unmapped(root: ElementTree.Element) -> tuple[str, ...]:
    entries: list[str] = []
    for tag in dict.fromkeys(child.tag for child in root):
        if tag in _XML_READ:
            entries += _xml_unmapped_within_read(root, tag)
        elif tag not in _XML_REDUNDANT:
            entries.append(_xml_element_unmapped(root, tag))
    return distinct(entries)


def _xml_element_unmapped(root: ElementTree.Element, tag: str) -> str:
    if tag.endswith(("_date", "_submitted", "_submitted_qc", "_posted")):
        return STUDY_DATES
    if tag in _XML_OUTCOMES:
        return outcome_measures(*(len(root.findall(outcome)) for outcome in _XML_OUTCOMES))
    if tag in _XML_REPEATED_ELEMENTS:
        return counted(_XML_REPEATED_ELEMENTS[tag], len(root.findall(tag)))
    if tag in _XML_VALUED_ELEMENTS:
        return valued(_XML_VALUED_ELEMENTS[tag], _xml_text(root, tag))
    if tag == "study_design_info":
        design_info = root.find(tag)
        assert design_info is not None, "the tag is one of the root's children"
        return valued("design", ", ".join(_xml_design_items(design_info)))
    return _XML_WHOLE_ELEMENTS.get(tag, tag.replace("_", " "))


def _xml_design_items(design_info: ElementTree.Element) -> list[str]:
    """The design's named choices, e.g. "allocation Randomized", "masking None (Open Label)"."""
    return [f"{item.tag.replace('_', ' ')} {text}" for item in design_info if (text := (item.text or "").strip())]


def _xml_unmapped_within_read(root: ElementTree.Element, tag: str) -> list[str]:
    """What the identification, sponsors and interventions hold beyond their mapped fields."""
    entries = []
    if tag == "id_info":
        if org_study_id := _xml_text(root, "id_info/org_study_id"):
            entries.append(valued("org study ID", org_study_id))
        if secondary_ids := _xml_texts(root, "id_info/secondary_id"):
            entries.append(valued("secondary IDs", ", ".join(secondary_ids)))
        if nct_aliases := _xml_texts(root, "id_info/nct_alias"):
            entries.append(valued("NCT aliases", ", ".join(nct_aliases)))
    elif tag == "sponsors" and (sponsor_class := _xml_text(root, "sponsors/lead_sponsor/agency_class")):
        entries.append(valued("lead sponsor class", sponsor_class))
    elif tag == "intervention" and (other_names := _xml_texts(root, "intervention/other_name")):
        entries.append(valued(OTHER_INTERVENTION_NAMES, ", ".join(other_names)))
    return entries


def _arms_with_interventions_named(
    arms: Iterable[ImportedArm], interventions: tuple[ImportedIntervention, ...]
) -> tuple[ImportedArm, ...]:
    """Arms whose intervention names come from the interventions that list the arm's label."""
    return tuple(
        ImportedArm(
            arm.label,
            arm.arm_type,
            arm.description,
            tuple(intervention.name for intervention in interventions if arm.label in intervention.arm_labels),
        )
        for arm in arms
    )
