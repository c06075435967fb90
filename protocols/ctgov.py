"""Read a ClinicalTrials.gov study record into what a protocol needs, and list what it leaves out.

Two formats are read, told apart by their content: the API v2 single-study JSON
(an object with ``protocolSection``) and the legacy ``clinical_study`` XML. The
lab serves trials after phase II, so earlier phases and studies without a phase
are refused. Whatever the record holds that is not mapped into
:class:`ImportedStudy` is listed in :attr:`ImportedStudy.unmapped` for the user.

The parser is pure: no database, no Flask. The file is untrusted input, so XML
goes through defusedxml and every JSON value is type-checked before use.
"""
from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.etree import ElementTree

import defusedxml
import defusedxml.ElementTree as SafeElementTree

from lims.errors import InvalidInput
from protocols.models import ProtocolPhase

MAX_RECORD_BYTES = 5 * 1024 * 1024
API_V2_JSON = "ClinicalTrials.gov API v2 JSON"
LEGACY_XML = "ClinicalTrials.gov legacy XML"

_NCT_ID = re.compile(r"NCT[0-9]{8}")
_LAB_SERVES = "The lab serves trials after phase II"
_MESH_TERMS = "MeSH terms (derived)"
_STUDY_DATES = "study dates"
_OTHER_INTERVENTION_NAMES = "other intervention names"


class CtgovImportError(InvalidInput):
    """A file that is not a ClinicalTrials.gov study record the LIMS can read."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


class EarlierPhaseRefused(CtgovImportError):
    """A study in a phase before the ones the lab serves, or with no phase at all."""


@dataclass(frozen=True)
class ImportedArm:
    label: str
    arm_type: str | None
    description: str | None
    intervention_names: tuple[str, ...]


@dataclass(frozen=True)
class ImportedIntervention:
    kind: str | None
    name: str
    description: str | None
    arm_labels: tuple[str, ...]


@dataclass(frozen=True)
class ImportedStudy:
    nct_id: str
    brief_title: str
    official_title: str | None
    acronym: str | None
    phase: ProtocolPhase
    sponsor: str
    collaborators: tuple[str, ...]
    conditions: tuple[str, ...]
    arms: tuple[ImportedArm, ...]
    interventions: tuple[ImportedIntervention, ...]
    enrollment: int | None
    enrollment_type: str | None
    overall_status: str | None
    source_format: str
    unmapped: tuple[str, ...]


def parse_study(data: bytes, filename: str | None = None) -> ImportedStudy:
    """Read one study record, API v2 JSON or legacy XML, whichever ``data`` holds.

    Raises :class:`CtgovImportError` for a file that is not such a record and
    :class:`EarlierPhaseRefused` for a study the lab does not serve.
    """
    subject = f"“{filename}”" if filename else "The file"
    if len(data) > MAX_RECORD_BYTES:
        raise CtgovImportError(f"{subject} is larger than 5 MB, the limit for one ClinicalTrials.gov study record.")
    content = data.removeprefix(codecs.BOM_UTF8).lstrip()
    if content.startswith((b"{", b"[")):
        return _parse_api_v2(_load_json(content, subject))
    if content.startswith(b"<"):
        return _parse_legacy_xml(_load_xml(content, subject))
    raise CtgovImportError(f"{subject} is neither a ClinicalTrials.gov JSON record nor an XML one.")


# --- Shared rules -------------------------------------------------------------------------------------------------


def _checked_nct_id(nct_id: str | None) -> str:
    if nct_id is None:
        raise CtgovImportError("The record has no NCT number.")
    if not _NCT_ID.fullmatch(nct_id):
        raise CtgovImportError(f"“{nct_id}” is not an NCT number: expected NCT followed by 8 digits.")
    return nct_id


def _required(value: str | None, what: str, nct_id: str) -> str:
    if value is None:
        raise CtgovImportError(f"The record {nct_id} has no {what}.")
    return value


def _refuse_earlier_phase(nct_id: str, phase_label: str | None, study_type: str | None) -> EarlierPhaseRefused:
    if phase_label is not None:
        return EarlierPhaseRefused(f"{_LAB_SERVES}; {nct_id} is {phase_label}.")
    kind = f" ({study_type} study)" if study_type else ""
    return EarlierPhaseRefused(f"{_LAB_SERVES}; {nct_id} has no phase{kind}.")


def _unknown_phase(nct_id: str, phase_label: str) -> CtgovImportError:
    return CtgovImportError(f"The record {nct_id} gives phase “{phase_label}”, which ClinicalTrials.gov does not use.")


def _counted(label: str, count: int) -> str:
    return f"{label} ({count})"


def _valued(label: str, value: str | None) -> str:
    return f"{label}: {value}" if value else label


def _outcome_measures(primary: int, secondary: int, other: int) -> str:
    counts = [f"{count} {kind}" for count, kind in ((primary, "primary"), (secondary, "secondary"), (other, "other"))
              if count]
    return _valued("outcome measures", ", ".join(counts))


def _distinct(entries: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(entries))


def _arms_with_interventions_named(arms: Iterable[ImportedArm],
                                   interventions: tuple[ImportedIntervention, ...]) -> tuple[ImportedArm, ...]:
    """Arms whose intervention names come from the interventions that list the arm's label."""
    return tuple(
        ImportedArm(arm.label, arm.arm_type, arm.description,
                    tuple(intervention.name for intervention in interventions if arm.label in intervention.arm_labels))
        for arm in arms
    )


# --- API v2 JSON --------------------------------------------------------------------------------------------------


def _load_json(content: bytes, subject: str) -> _JsonObject:
    try:
        record = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise CtgovImportError(f"{subject} is not UTF-8 text, as ClinicalTrials.gov JSON is.") from None
    except json.JSONDecodeError as error:
        raise CtgovImportError(
            f"{subject} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from None
    except RecursionError:
        raise CtgovImportError(f"{subject} nests JSON too deeply to be a ClinicalTrials.gov record.") from None
    if not isinstance(record, dict) or not isinstance(record.get("protocolSection"), dict):
        raise CtgovImportError(
            f"{subject} is JSON but not a ClinicalTrials.gov API v2 single-study record (no protocolSection)."
        )
    return _JsonObject(record, "")


class _JsonObject:
    """A JSON object and its path in the record, so that a value of the wrong type is named in the error."""

    def __init__(self, fields: Mapping[str, object], path: str) -> None:
        self.fields = fields
        self.path = path

    def _path_to(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _wrong_type(self, key: str, expected: str) -> CtgovImportError:
        return CtgovImportError(f"The record's {self._path_to(key)} should be {expected}.")

    def object(self, key: str) -> _JsonObject:
        value = self.fields.get(key, {})
        if not isinstance(value, dict):
            raise self._wrong_type(key, "an object")
        return _JsonObject(value, self._path_to(key))

    def objects(self, key: str) -> tuple[_JsonObject, ...]:
        values = self._list(key)
        if not all(isinstance(value, dict) for value in values):
            raise self._wrong_type(key, "a list of objects")
        return tuple(_JsonObject(value, f"{self._path_to(key)}[{index}]") for index, value in enumerate(values))

    def text(self, key: str) -> str | None:
        value = self.fields.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong_type(key, "text")
        return value.strip() or None

    def texts(self, key: str) -> tuple[str, ...]:
        values = self._list(key)
        if not all(isinstance(value, str) for value in values):
            raise self._wrong_type(key, "a list of texts")
        return tuple(value.strip() for value in values if value.strip())

    def count(self, key: str) -> int | None:
        value = self.fields.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong_type(key, "a whole number")
        return value

    def _list(self, key: str) -> list[object]:
        value = self.fields.get(key, [])
        if not isinstance(value, list):
            raise self._wrong_type(key, "a list")
        return value

    def size(self, key: str) -> int:
        """How many items the list (or keys the object) under ``key`` holds."""
        value = self.fields.get(key)
        return len(value) if isinstance(value, list | dict) else 0

    def unread_keys(self, read: frozenset[str] = frozenset()) -> list[str]:
        return [key for key in self.fields if key not in read]


_API_PHASES = {
    ("PHASE2", "PHASE3"): ProtocolPhase.PHASE_2_3,
    ("PHASE3",): ProtocolPhase.PHASE_3,
    ("PHASE4",): ProtocolPhase.PHASE_4,
}
_API_EARLIER_PHASES = {"EARLY_PHASE1": "Early Phase 1", "PHASE1": "Phase 1", "PHASE2": "Phase 2"}
_API_NO_PHASE = "NA"

# The type prefixes ClinicalTrials.gov puts before intervention names in an arm ("Biological: Certolizumab Pegol").
_API_INTERVENTION_TYPE_PREFIX = re.compile(
    r"^(?:Behavioral|Biological|Combination Product|Device|Diagnostic Test|Dietary Supplement|Drug|Genetic|Other"
    r"|Procedure|Radiation): "
)
_API_SECONDARY_ID_TYPES = {"EUDRACT_NUMBER": "EudraCT", "CTIS": "CTIS"}

_API_READ = {
    "identificationModule": frozenset({"nctId", "briefTitle", "officialTitle", "acronym"}),
    "statusModule": frozenset({"overallStatus"}),
    "sponsorCollaboratorsModule": frozenset({"leadSponsor", "collaborators"}),
    "conditionsModule": frozenset({"conditions"}),
    "designModule": frozenset({"phases", "enrollmentInfo"}),
    "armsInterventionsModule": frozenset({"armGroups", "interventions"}),
}
# Modules none of which is read, but whose fields are worth telling apart; any other unread module is one entry.
_API_UNREAD_FIELD_BY_FIELD = frozenset({"descriptionModule", "contactsLocationsModule", "referencesModule"})
_API_WHOLE_MODULES = {
    "eligibilityModule": "eligibility criteria",
    "oversightModule": "oversight",
    "ipdSharingStatementModule": "IPD sharing statement",
}
_API_FIELDS = {
    "briefSummary": "brief summary",
    "detailedDescription": "detailed description",
    "whyStopped": "why stopped",
    "expandedAccessInfo": "expanded access info",
    "responsibleParty": "responsible party",
}
_API_LISTS = {
    "keywords": "keywords",
    "centralContacts": "central contacts",
    "overallOfficials": "overall officials",
    "locations": "locations",
    "references": "references",
    "seeAlsoLinks": "links",
    "availIpds": "available IPD",
}
_API_SECTIONS = {
    "resultsSection": "results section",
    "documentSection": "documents",
    "annotationSection": "annotations",
}
_API_DERIVED_MODULES = {
    "conditionBrowseModule": _MESH_TERMS,
    "interventionBrowseModule": _MESH_TERMS,
    "miscInfoModule": "derived version info",
}
# protocolSection is walked module by module; hasResults only restates whether resultsSection is present.
_API_SECTIONS_NOT_LISTED = frozenset({"protocolSection", "hasResults"})


def _parse_api_v2(record: _JsonObject) -> ImportedStudy:
    protocol = record.object("protocolSection")
    identification = protocol.object("identificationModule")
    design = protocol.object("designModule")
    nct_id = _checked_nct_id(identification.text("nctId"))
    phase = _api_phase(nct_id, design)
    sponsors = protocol.object("sponsorCollaboratorsModule")
    arms_and_interventions = protocol.object("armsInterventionsModule")
    enrollment = design.object("enrollmentInfo")
    return ImportedStudy(
        nct_id=nct_id,
        brief_title=_required(identification.text("briefTitle"), "brief title", nct_id),
        official_title=identification.text("officialTitle"),
        acronym=identification.text("acronym"),
        phase=phase,
        sponsor=_required(sponsors.object("leadSponsor").text("name"), "lead sponsor", nct_id),
        collaborators=tuple(_required(collaborator.text("name"), "collaborator name", nct_id)
                            for collaborator in sponsors.objects("collaborators")),
        conditions=protocol.object("conditionsModule").texts("conditions"),
        arms=tuple(_api_arm(arm, nct_id) for arm in arms_and_interventions.objects("armGroups")),
        interventions=tuple(_api_intervention(intervention, nct_id)
                            for intervention in arms_and_interventions.objects("interventions")),
        enrollment=enrollment.count("count"),
        enrollment_type=enrollment.text("type"),
        overall_status=protocol.object("statusModule").text("overallStatus"),
        source_format=API_V2_JSON,
        unmapped=_api_unmapped(record),
    )


def _api_phase(nct_id: str, design: _JsonObject) -> ProtocolPhase:
    phases = tuple(sorted(set(design.texts("phases"))))
    if phases in _API_PHASES:
        return _API_PHASES[phases]
    if phases in {(), (_API_NO_PHASE,)}:
        raise _refuse_earlier_phase(nct_id, None, _api_enum_label(design.text("studyType")))
    if all(phase in _API_EARLIER_PHASES for phase in phases):
        raise _refuse_earlier_phase(nct_id, "/".join(_API_EARLIER_PHASES[phase] for phase in phases), None)
    raise _unknown_phase(nct_id, "/".join(phases))


def _api_enum_label(value: str | None) -> str | None:
    """EXPANDED_ACCESS → Expanded Access."""
    return value.replace("_", " ").title() if value else None


def _api_arm(arm: _JsonObject, nct_id: str) -> ImportedArm:
    return ImportedArm(
        label=_required(arm.text("label"), "arm label", nct_id),
        arm_type=arm.text("type"),
        description=arm.text("description"),
        intervention_names=tuple(_API_INTERVENTION_TYPE_PREFIX.sub("", name, count=1)
                                 for name in arm.texts("interventionNames")),
    )


def _api_intervention(intervention: _JsonObject, nct_id: str) -> ImportedIntervention:
    return ImportedIntervention(
        kind=intervention.text("type"),
        name=_required(intervention.text("name"), "intervention name", nct_id),
        description=intervention.text("description"),
        arm_labels=intervention.texts("armGroupLabels"),
    )


def _api_unmapped(record: _JsonObject) -> tuple[str, ...]:
    protocol = record.object("protocolSection")
    entries = [entry for module in protocol.unread_keys() for entry in _api_module_unmapped(protocol, module)]
    for section in record.unread_keys(_API_SECTIONS_NOT_LISTED):
        if section == "derivedSection":
            entries += [_API_DERIVED_MODULES.get(module, _humanized(module))
                        for module in record.object(section).unread_keys()]
        else:
            entries.append(_API_SECTIONS.get(section, _humanized(section)))
    return _distinct(entries)


def _api_module_unmapped(protocol: _JsonObject, module_name: str) -> list[str]:
    module = protocol.object(module_name)
    if module_name == "outcomesModule":
        return [_outcome_measures(module.size("primaryOutcomes"), module.size("secondaryOutcomes"),
                                  module.size("otherOutcomes"))]
    if module_name not in _API_READ and module_name not in _API_UNREAD_FIELD_BY_FIELD:
        return [_API_WHOLE_MODULES.get(module_name, _humanized(module_name))]
    unread_fields = [_api_field_unmapped(module, key)
                     for key in module.unread_keys(_API_READ.get(module_name, frozenset()))]
    return unread_fields + _api_unmapped_within_items(module_name, module)


def _api_field_unmapped(module: _JsonObject, key: str) -> str:
    if key.endswith(("Date", "DateStruct")):
        return _STUDY_DATES
    if key in _API_LISTS:
        return _counted(_API_LISTS[key], module.size(key))
    if key == "nctIdAliases":
        return _valued("NCT aliases", ", ".join(module.texts(key)))
    if key == "orgStudyIdInfo":
        return _valued("org study ID", module.object(key).text("id"))
    if key == "organization":
        return _valued("organization", module.object(key).text("fullName"))
    if key == "secondaryIdInfos":
        return _valued("secondary IDs", ", ".join(_api_secondary_id(info) for info in module.objects(key)))
    if key == "designInfo":
        return _valued("design", ", ".join(_api_design_items(module.object(key))))
    if key in {"studyType", "lastKnownStatus"}:
        return _valued(_humanized(key), module.text(key))
    return _API_FIELDS.get(key, _humanized(key))


def _api_secondary_id(info: _JsonObject) -> str:
    type_label = _API_SECONDARY_ID_TYPES.get(info.text("type") or "")
    identifier = info.text("id") or ""
    return f"{type_label} {identifier}" if type_label else identifier


def _api_design_items(design_info: _JsonObject) -> list[str]:
    """The design's named choices, e.g. "allocation RANDOMIZED", "masking QUADRUPLE"."""
    items = []
    for key, value in design_info.fields.items():
        if isinstance(value, str):
            items.append(f"{_humanized(key)} {value}")
        elif isinstance(value, dict):
            items += _api_design_items(design_info.object(key))
    return items


def _api_unmapped_within_items(module_name: str, module: _JsonObject) -> list[str]:
    """What the sponsors and interventions that are read hold beyond their mapped fields."""
    if module_name == "sponsorCollaboratorsModule" and (sponsor_class := module.object("leadSponsor").text("class")):
        return [_valued("lead sponsor class", sponsor_class)]
    if module_name == "armsInterventionsModule" and (
        other_names := [name for intervention in module.objects("interventions")
                        for name in intervention.texts("otherNames")]
    ):
        return [_valued(_OTHER_INTERVENTION_NAMES, ", ".join(other_names))]
    return []


def _humanized(key: str) -> str:
    """seeAlsoLinks → see also links; ipdSharingStatementModule → ipd sharing statement."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", key.removesuffix("Module")).lower()


# --- Legacy XML ---------------------------------------------------------------------------------------------------


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

_XML_READ = frozenset({
    "id_info", "brief_title", "official_title", "acronym", "sponsors", "overall_status", "phase", "enrollment",
    "condition", "arm_group", "intervention",
})
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
    "condition_browse": _MESH_TERMS,
    "intervention_browse": _MESH_TERMS,
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
    nct_id = _checked_nct_id(_xml_text(root, "id_info/nct_id"))
    phase = _xml_phase(nct_id, root)
    interventions = tuple(_xml_intervention(element, nct_id) for element in root.findall("intervention"))
    arms = (_xml_arm(element, nct_id) for element in root.findall("arm_group"))
    enrollment = root.find("enrollment")
    return ImportedStudy(
        nct_id=nct_id,
        brief_title=_required(_xml_text(root, "brief_title"), "brief title", nct_id),
        official_title=_xml_text(root, "official_title"),
        acronym=_xml_text(root, "acronym"),
        phase=phase,
        sponsor=_required(_xml_text(root, "sponsors/lead_sponsor/agency"), "lead sponsor", nct_id),
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
    return int(text)


def _xml_phase(nct_id: str, root: ElementTree.Element) -> ProtocolPhase:
    phase = _xml_text(root, "phase")
    if phase in _XML_PHASES:
        return _XML_PHASES[phase]
    if phase is None or phase == _XML_NO_PHASE:
        raise _refuse_earlier_phase(nct_id, None, _xml_text(root, "study_type"))
    if phase in _XML_EARLIER_PHASES:
        raise _refuse_earlier_phase(nct_id, phase, None)
    raise _unknown_phase(nct_id, phase)


def _xml_arm(element: ElementTree.Element, nct_id: str) -> ImportedArm:
    return ImportedArm(
        label=_required(_xml_text(element, "arm_group_label"), "arm label", nct_id),
        arm_type=_xml_text(element, "arm_group_type"),
        description=_xml_text(element, "description"),
        intervention_names=(),
    )


def _xml_intervention(element: ElementTree.Element, nct_id: str) -> ImportedIntervention:
    return ImportedIntervention(
        kind=_xml_text(element, "intervention_type"),
        name=_required(_xml_text(element, "intervention_name"), "intervention name", nct_id),
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
    return _distinct(entries)


def _xml_element_unmapped(root: ElementTree.Element, tag: str) -> str:
    if tag.endswith(("_date", "_submitted", "_submitted_qc", "_posted")):
        return _STUDY_DATES
    if tag in _XML_OUTCOMES:
        return _outcome_measures(*(len(root.findall(outcome)) for outcome in _XML_OUTCOMES))
    if tag in _XML_REPEATED_ELEMENTS:
        return _counted(_XML_REPEATED_ELEMENTS[tag], len(root.findall(tag)))
    if tag in _XML_VALUED_ELEMENTS:
        return _valued(_XML_VALUED_ELEMENTS[tag], _xml_text(root, tag))
    if tag == "study_design_info":
        return _valued("design", ", ".join(_xml_design_items(root.find(tag))))
    return _XML_WHOLE_ELEMENTS.get(tag, tag.replace("_", " "))


def _xml_design_items(design_info: ElementTree.Element) -> list[str]:
    """The design's named choices, e.g. "allocation Randomized", "masking None (Open Label)"."""
    return [f"{item.tag.replace('_', ' ')} {text}" for item in design_info if (text := (item.text or "").strip())]


def _xml_unmapped_within_read(root: ElementTree.Element, tag: str) -> list[str]:
    """What the identification, sponsors and interventions hold beyond their mapped fields."""
    entries = []
    if tag == "id_info":
        if org_study_id := _xml_text(root, "id_info/org_study_id"):
            entries.append(_valued("org study ID", org_study_id))
        if secondary_ids := _xml_texts(root, "id_info/secondary_id"):
            entries.append(_valued("secondary IDs", ", ".join(secondary_ids)))
        if nct_aliases := _xml_texts(root, "id_info/nct_alias"):
            entries.append(_valued("NCT aliases", ", ".join(nct_aliases)))
    elif tag == "sponsors" and (sponsor_class := _xml_text(root, "sponsors/lead_sponsor/agency_class")):
        entries.append(_valued("lead sponsor class", sponsor_class))
    elif tag == "intervention" and (other_names := _xml_texts(root, "intervention/other_name")):
        entries.append(_valued(_OTHER_INTERVENTION_NAMES, ", ".join(other_names)))
    return entries
