"""A protocol version's study design as CDISC ODM 1.3.2 metadata, for sponsors' EDC and data-management systems.

Each visit becomes a scheduled study event with one sample collection form;
each sample requirement of the visit becomes an item group whose items record
the collection: when, what, how much, in which container, at what handling
temperature and how long until processing. The requirement's expected values
and limits go into the items' descriptions.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from lims import clock
from lims.audit import chain as audit_chain
from lims.units.errors import NoUcumCode, UnsupportedUcum
from lims.units.measurement import Measurement
from lims.units.ucum import to_ucum
from protocols.models import ProtocolVersion, SampleRequirement, Visit

ODM_NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
SOURCE_SYSTEM = "GMP LIMS"
HOURS = "h"

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NOT_IN_OID = re.compile(r"[^A-Za-z0-9._]")
# XML 1.0 cannot carry these at all (not even as character references). Input refuses them, but a text stored
# before that rule may hold one; it is written as its visible Unicode control picture (ESC as ␛), so the file
# stays readable and the character is shown, not silently dropped.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_PICTURES = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421}


def export_odm(session: Session, version: ProtocolVersion) -> bytes:
    """The design of ``version`` as ODM as of now (see :func:`export_version`), the export recorded in the trail."""
    document = export_version(version, created_at=clock.now())
    audit_chain.record(session, "export.odm", entity=version, details={"protocol": version.protocol.number})
    return document


def export_version(version: ProtocolVersion, *, created_at: datetime, file_oid: str | None = None) -> bytes:
    """The design of ``version`` as an ODM 1.3.2 metadata snapshot: UTF-8 XML with its declaration.

    Visits are exported in the order of ``version.visits``, the schedule order when loaded from the database.
    ``created_at`` must be aware; it becomes the file's CreationDateTime.
    """
    if created_at.tzinfo is None:
        raise ValueError("created_at must be an aware datetime")
    protocol = version.protocol
    # ElementTree's default_namespace refuses unqualified attributes, and ODM's are all unqualified,
    # so the elements are written unqualified under an explicit default namespace declaration.
    odm = ET.Element(
        "ODM",
        {
            "xmlns": ODM_NAMESPACE,
            "ODMVersion": "1.3.2",
            "FileType": "Snapshot",
            "FileOID": file_oid or _default_file_oid(version, created_at),
            "CreationDateTime": created_at.isoformat(timespec="seconds"),
            "Granularity": "Metadata",
            "SourceSystem": SOURCE_SYSTEM,
        },
    )
    study = _child(odm, "Study", OID=_oid("ST", protocol.number))
    global_variables = _child(study, "GlobalVariables")
    _child(global_variables, "StudyName", protocol.number)
    _child(global_variables, "StudyDescription", protocol.title)
    _child(global_variables, "ProtocolName", f"{protocol.number} version {version.number}")

    visits = list(version.visits)
    unit_oids = _add_measurement_units(study, _units_used(visits))
    metadata = _child(
        study,
        "MetaDataVersion",
        OID=_oid("MDV", version.number),
        Name=f"Version {version.number}",
        Description=version.amendment_summary,
    )
    _add_design(metadata, visits, unit_oids)

    ET.indent(odm)
    return ET.tostring(odm, encoding="UTF-8", xml_declaration=True)


@dataclass(frozen=True)
class _Item:
    """One item the collection form records for a sample requirement."""

    key: str
    name: str
    data_type: str
    description: str | None = None
    unit: str | None = None


def _collection_items(requirement: SampleRequirement) -> list[_Item]:
    low, high = _handling_range(requirement)
    return [
        _Item("COLLECTED_AT", "Collection date and time", "datetime"),
        _Item("SAMPLE_TYPE", "Sample type", "text", f"Expected: {requirement.sample_type}"),
        _Item("VOLUME", "Collected volume", "float", f"Required: {requirement.volume}", requirement.volume.unit),
        _Item("CONTAINER", "Container", "text", f"Expected: {requirement.container}"),
        _Item("HANDLING_TEMPERATURE", "Handling temperature", "float", f"Allowed: {low} to {high}", low.unit),
        _Item(
            "HOURS_TO_PROCESSING",
            "Time to processing",
            "integer",
            f"Maximum: {requirement.max_hours_to_processing} {HOURS} from collection to processing",
            HOURS,
        ),
    ]


def _handling_range(requirement: SampleRequirement) -> tuple[Measurement, Measurement]:
    # The temperature item has one unit, so both ends are stated in the minimum's.
    low = requirement.handling_minimum
    return low, requirement.handling_maximum.to(low.unit)


# Measurement units


def _units_used(visits: Iterable[Visit]) -> list[str]:
    used = [
        item.unit
        for visit in visits
        for requirement in visit.requirements
        for item in _collection_items(requirement)
        if item.unit is not None
    ]
    return list(dict.fromkeys(used))


def _add_measurement_units(study: ET.Element, units: list[str]) -> dict[str, str]:
    """Add a MeasurementUnit per LIMS unit text; return each text's OID."""
    if not units:
        return {}
    definitions = _child(study, "BasicDefinitions")
    symbols = [_ucum_symbol(unit) for unit in units]
    unit_oids = {unit: f"MU.{key}" for unit, key in zip(units, _unique_oid_keys(symbols), strict=True)}
    for unit, symbol in zip(units, symbols, strict=True):
        measurement_unit = _child(definitions, "MeasurementUnit", OID=unit_oids[unit], Name=unit)
        _translated(measurement_unit, "Symbol", symbol)
    return unit_oids


def _ucum_symbol(unit: str) -> str:
    """A unit's UCUM code; a unit kept before every unit had one is refused by name, never exported as typed."""
    try:
        return to_ucum(Measurement(Decimal(1), unit))[1]
    except UnsupportedUcum as error:
        raise NoUcumCode(
            f"The unit {unit!r} has no UCUM code, so the ODM export cannot name it: correct the sample "
            "requirement that uses it."
        ) from error


# Study design


def _add_design(metadata: ET.Element, visits: list[Visit], unit_oids: dict[str, str]) -> None:
    """Protocol, then study events, forms, item groups and items: the order the ODM schema requires."""
    visit_keys = _unique_oid_keys(visit.code for visit in visits)
    protocol = _child(metadata, "Protocol")
    for order, key in enumerate(visit_keys, start=1):
        _child(protocol, "StudyEventRef", StudyEventOID=f"SE.{key}", OrderNumber=str(order), Mandatory="Yes")
    for visit, key in zip(visits, visit_keys, strict=True):
        _add_study_event_def(metadata, visit, key)
    for visit, key in zip(visits, visit_keys, strict=True):
        _add_form_def(metadata, visit, key)
    for visit, key in zip(visits, visit_keys, strict=True):
        for number, requirement in enumerate(visit.requirements, start=1):
            _add_item_group_def(metadata, requirement, f"{key}.{number}")
    for visit, key in zip(visits, visit_keys, strict=True):
        for number, requirement in enumerate(visit.requirements, start=1):
            _add_item_defs(metadata, requirement, f"{key}.{number}", unit_oids)


def _add_study_event_def(metadata: ET.Element, visit: Visit, key: str) -> None:
    event = _child(metadata, "StudyEventDef", OID=f"SE.{key}", Name=visit.name, Repeating="No", Type="Scheduled")
    _translated(
        event,
        "Description",
        f"Day {visit.day_offset} from {visit.reference_event.value}, "
        f"window -{visit.window_before_days}/+{visit.window_after_days} days",
    )
    _child(event, "FormRef", FormOID=_form_oid(key), OrderNumber="1", Mandatory="Yes")


def _add_form_def(metadata: ET.Element, visit: Visit, key: str) -> None:
    form = _child(metadata, "FormDef", OID=_form_oid(key), Name=f"{visit.name}: sample collection", Repeating="No")
    for number, _requirement in enumerate(visit.requirements, start=1):
        _child(form, "ItemGroupRef", ItemGroupOID=f"IG.{key}.{number}", OrderNumber=str(number), Mandatory="Yes")


def _add_item_group_def(metadata: ET.Element, requirement: SampleRequirement, key: str) -> None:
    group = _child(metadata, "ItemGroupDef", OID=f"IG.{key}", Name=requirement.sample_type, Repeating="No")
    for order, item in enumerate(_collection_items(requirement), start=1):
        _child(group, "ItemRef", ItemOID=f"IT.{key}.{item.key}", OrderNumber=str(order), Mandatory="Yes")


def _add_item_defs(metadata: ET.Element, requirement: SampleRequirement, key: str, unit_oids: dict[str, str]) -> None:
    for item in _collection_items(requirement):
        definition = _child(metadata, "ItemDef", OID=f"IT.{key}.{item.key}", Name=item.name, DataType=item.data_type)
        if item.description is not None:
            _translated(definition, "Description", item.description)
        if item.unit is not None:
            _child(definition, "MeasurementUnitRef", MeasurementUnitOID=unit_oids[item.unit])


def _form_oid(key: str) -> str:
    return f"F.{key}.SAMPLES"


# OIDs and elements


def _oid(prefix: str, text: str) -> str:
    return f"{prefix}.{_sanitise(text)}"


def _sanitise(text: str) -> str:
    return _NOT_IN_OID.sub("_", text) or "_"


def _unique_oid_keys(texts: Iterable[str]) -> list[str]:
    """Each text made OID-safe, with a suffix where two texts sanitise alike (``V 1`` and ``V-1``)."""
    keys: list[str] = []
    for text in texts:
        base = key = _sanitise(text)
        suffix = 1
        while key in keys:
            suffix += 1
            key = f"{base}_{suffix}"
        keys.append(key)
    return keys


def _default_file_oid(version: ProtocolVersion, created_at: datetime) -> str:
    stamp = created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return _oid("ODM", f"{version.protocol.number}.{version.number}.{stamp}")


def _child(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, name, {key: _xml_text(value) for key, value in attributes.items()})
    element.text = None if text is None else _xml_text(text)
    return element


def _xml_text(text: str) -> str:
    return _NOT_IN_XML.sub(lambda found: chr(_CONTROL_PICTURES[ord(found.group())]), text)


def _translated(parent: ET.Element, name: str, text: str) -> None:
    _child(_child(parent, name), "TranslatedText", text, **{_XML_LANG: "en"})
