"""Read a ClinicalTrials.gov API v2 single-study JSON record, type-checking every value it uses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TypeAlias

from lims.inputs import STORABLE_INTEGERS, control_character_message
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

API_V2_JSON = "ClinicalTrials.gov API v2 JSON"


def read_api_v2(content: bytes, subject: str) -> ImportedStudy:
    """Read the record ``content`` holds; ``subject`` names the file in messages."""
    return _parse_api_v2(_load_json(content, subject))


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


#: Anything json.loads returns (also named so, because inside _JsonObject ``object`` is its method).
_JsonValue: TypeAlias = object


class _JsonObject:
    """A JSON object and its path in the record, so that a value of the wrong type is named in the error."""

    def __init__(self, fields: Mapping[str, _JsonValue], path: str) -> None:
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
        objects = [value for value in values if isinstance(value, dict)]
        if len(objects) != len(values):
            raise self._wrong_type(key, "a list of objects")
        return tuple(_JsonObject(value, f"{self._path_to(key)}[{index}]") for index, value in enumerate(objects))

    def text(self, key: str) -> str | None:
        value = self.fields.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong_type(key, "text")
        self._refuse_control_characters(key, value)
        return value.strip() or None

    def texts(self, key: str) -> tuple[str, ...]:
        values = self._list(key)
        texts = [value for value in values if isinstance(value, str)]
        if len(texts) != len(values):
            raise self._wrong_type(key, "a list of texts")
        for text in texts:
            self._refuse_control_characters(key, text)
        return tuple(text.strip() for text in texts if text.strip())

    def count(self, key: str) -> int | None:
        value = self.fields.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong_type(key, "a whole number")
        if value not in STORABLE_INTEGERS:
            raise self._wrong_type(key, f"a whole number up to {STORABLE_INTEGERS[-1]}")
        return value

    def _refuse_control_characters(self, key: str, text: str) -> None:
        if control_character_message(text):
            raise CtgovImportError(
                f"The record's {self._path_to(key)} holds an invisible control character, which no text can keep."
            )

    def _list(self, key: str) -> list[_JsonValue]:
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
    "conditionBrowseModule": MESH_TERMS,
    "interventionBrowseModule": MESH_TERMS,
    "miscInfoModule": "derived version info",
}
# protocolSection is walked module by module; hasResults only restates whether resultsSection is present.
_API_SECTIONS_NOT_LISTED = frozenset({"protocolSection", "hasResults"})


def _parse_api_v2(record: _JsonObject) -> ImportedStudy:
    protocol = record.object("protocolSection")
    identification = protocol.object("identificationModule")
    design = protocol.object("designModule")
    nct_id = checked_nct_id(identification.text("nctId"))
    phase = _api_phase(nct_id, design)
    sponsors = protocol.object("sponsorCollaboratorsModule")
    arms_and_interventions = protocol.object("armsInterventionsModule")
    enrollment = design.object("enrollmentInfo")
    return ImportedStudy(
        nct_id=nct_id,
        brief_title=required(identification.text("briefTitle"), "brief title", nct_id),
        official_title=identification.text("officialTitle"),
        acronym=identification.text("acronym"),
        phase=phase,
        sponsor=required(sponsors.object("leadSponsor").text("name"), "lead sponsor", nct_id),
        collaborators=tuple(
            required(collaborator.text("name"), "collaborator name", nct_id)
            for collaborator in sponsors.objects("collaborators")
        ),
        conditions=protocol.object("conditionsModule").texts("conditions"),
        arms=tuple(_api_arm(arm, nct_id) for arm in arms_and_interventions.objects("armGroups")),
        interventions=tuple(
            _api_intervention(intervention, nct_id) for intervention in arms_and_interventions.objects("interventions")
        ),
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
        raise refuse_earlier_phase(nct_id, None, _api_enum_label(design.text("studyType")))
    if all(phase in _API_EARLIER_PHASES for phase in phases):
        raise refuse_earlier_phase(nct_id, "/".join(_API_EARLIER_PHASES[phase] for phase in phases), None)
    raise unknown_phase(nct_id, "/".join(phases))


def _api_enum_label(value: str | None) -> str | None:
    """EXPANDED_ACCESS → Expanded Access."""
    return value.replace("_", " ").title() if value else None


def _api_arm(arm: _JsonObject, nct_id: str) -> ImportedArm:
    return ImportedArm(
        label=required(arm.text("label"), "arm label", nct_id),
        arm_type=arm.text("type"),
        description=arm.text("description"),
        intervention_names=tuple(
            _API_INTERVENTION_TYPE_PREFIX.sub("", name, count=1) for name in arm.texts("interventionNames")
        ),
    )


def _api_intervention(intervention: _JsonObject, nct_id: str) -> ImportedIntervention:
    return ImportedIntervention(
        kind=intervention.text("type"),
        name=required(intervention.text("name"), "intervention name", nct_id),
        description=intervention.text("description"),
        arm_labels=intervention.texts("armGroupLabels"),
    )


def _api_unmapped(record: _JsonObject) -> tuple[str, ...]:
    protocol = record.object("protocolSection")
    entries = [entry for module in protocol.unread_keys() for entry in _api_module_unmapped(protocol, module)]
    for section in record.unread_keys(_API_SECTIONS_NOT_LISTED):
        if section == "derivedSection":
            entries += [
                _API_DERIVED_MODULES.get(module, _humanized(module)) for module in record.object(section).unread_keys()
            ]
        else:
            entries.append(_API_SECTIONS.get(section, _humanized(section)))
    return distinct(entries)


def _api_module_unmapped(protocol: _JsonObject, module_name: str) -> list[str]:
    module = protocol.object(module_name)
    if module_name == "outcomesModule":
        return [
            outcome_measures(
                module.size("primaryOutcomes"), module.size("secondaryOutcomes"), module.size("otherOutcomes")
            )
        ]
    if module_name not in _API_READ and module_name not in _API_UNREAD_FIELD_BY_FIELD:
        return [_API_WHOLE_MODULES.get(module_name, _humanized(module_name))]
    unread_fields = [
        _api_field_unmapped(module, key) for key in module.unread_keys(_API_READ.get(module_name, frozenset()))
    ]
    return unread_fields + _api_unmapped_within_items(module_name, module)


def _api_field_unmapped(module: _JsonObject, key: str) -> str:
    if key.endswith(("Date", "DateStruct")):
        return STUDY_DATES
    if key in _API_LISTS:
        return counted(_API_LISTS[key], module.size(key))
    if key == "nctIdAliases":
        return valued("NCT aliases", ", ".join(module.texts(key)))
    if key == "orgStudyIdInfo":
        return valued("org study ID", module.object(key).text("id"))
    if key == "organization":
        return valued("organization", module.object(key).text("fullName"))
    if key == "secondaryIdInfos":
        return valued("secondary IDs", ", ".join(_api_secondary_id(info) for info in module.objects(key)))
    if key == "designInfo":
        return valued("design", ", ".join(_api_design_items(module.object(key))))
    if key in {"studyType", "lastKnownStatus"}:
        return valued(_humanized(key), module.text(key))
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
        return [valued("lead sponsor class", sponsor_class)]
    if module_name == "armsInterventionsModule" and (
        other_names := [
            name for intervention in module.objects("interventions") for name in intervention.texts("otherNames")
        ]
    ):
        return [valued(OTHER_INTERVENTION_NAMES, ", ".join(other_names))]
    return []


def _humanized(key: str) -> str:
    """seeAlsoLinks → see also links; ipdSharingStatementModule → ipd sharing statement."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", key.removesuffix("Module")).lower()
