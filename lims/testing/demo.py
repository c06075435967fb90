"""QC testing's part of the demo data set: the release tests of a CAR-T product, defined by the manager, and the
analysts' training on their methods."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user, on
from lims.equipment.models import EquipmentType
from lims.testing import service as testing
from lims.testing.models import ResultKind
from lims.training import service as training
from lims.units.kinds import ValueKind

_FRACTION = ValueKind.FRACTION

#: (code, name, method, result kind, unit, specification[, value kind when the unit does not say it])
TEST_DEFINITIONS: tuple[tuple[Any, ...], ...] = (
    ("QC-VIAB", "Viability", "7-AAD exclusion by flow cytometry", ResultKind.QUANTITATIVE, "%", "≥ 70 %", _FRACTION),
    (
        "QC-TVC",
        "Total viable cells",
        "Automated count (AO/DAPI) × final volume",
        ResultKind.QUANTITATIVE,
        "cells",
        "≥ 2 ×10^8 cells",
    ),
    ("QC-CD3", "CD3+ T cells", "Flow cytometry, CD45/CD3/7-AAD", ResultKind.QUANTITATIVE, "%", "≥ 80 %", _FRACTION),
    (
        "QC-TDX",
        "Transduction efficiency",
        "Flow cytometry, anti-CD19 CAR detection reagent on CD3+ cells",
        ResultKind.QUANTITATIVE,
        "%",
        "≥ 15 %",
        _FRACTION,
    ),
    (
        "QC-VCN",
        "Vector copy number",
        "ddPCR, WPRE against RPP30",
        ResultKind.QUANTITATIVE,
        "copies/cell",
        "≤ 5 copies/cell",
    ),
    (
        "QC-STER",
        "Sterility",
        "Ph. Eur. 2.6.27, BacT/ALERT aerobic and anaerobic, 7 days",
        ResultKind.QUALITATIVE,
        "",
        "No growth",
    ),
    (
        "QC-ENDO",
        "Endotoxin",
        "Ph. Eur. 2.6.14, kinetic chromogenic LAL",
        ResultKind.QUANTITATIVE,
        "EU/mL",
        "< 0.5 EU/mL",
    ),
    ("QC-MYCO", "Mycoplasma", "Ph. Eur. 2.6.7, validated NAT", ResultKind.QUALITATIVE, "", "Not detected"),
    (
        "QC-ID",
        "Identity",
        "Anti-CD19 CAR on CD3+ cells by flow cytometry; HLA type matched to the subject",
        ResultKind.QUALITATIVE,
        "",
        "Conforms",
    ),
    (
        "QC-POT",
        "Potency",
        "Specific lysis of CD19+ NALM-6 target cells at E:T 10:1",
        ResultKind.QUANTITATIVE,
        "%",
        "≥ 20 %",
        _FRACTION,
    ),
)


#: the kind of instrument each test's results name (the others name none)
INSTRUMENT_TYPES = {
    "QC-VIAB": EquipmentType.FLOW_CYTOMETER,
    "QC-CD3": EquipmentType.FLOW_CYTOMETER,
    "QC-TDX": EquipmentType.FLOW_CYTOMETER,
    "QC-ID": EquipmentType.FLOW_CYTOMETER,
    "QC-VCN": EquipmentType.DIGITAL_PCR,
}

#: the analysts who record and verify the demo's QC results: trained on every test method the day it was defined
ANALYSTS = ("t.nguyen", "s.lind", "q.okafor")


def load_test_definitions(session: Session) -> None:
    """Add whichever of the demo's QC tests are missing, defined by the manager two months ago, who records the
    analysts' training on each the same day."""
    existing = {definition.code for definition in testing.list_definitions(session)}
    manager = demo_user(session, "m.larsen")
    analysts = [demo_user(session, username) for username in ANALYSTS]
    with on(clock.today(), (60, "10:00")), acting_as(session, manager):
        for code, name, method, kind, unit, specification, *value_kind in TEST_DEFINITIONS:
            if code not in existing:
                definition = testing.create_definition(
                    session,
                    code=code,
                    name=name,
                    method=method,
                    result_kind=kind,
                    unit=unit,
                    specification=specification,
                    value_kind=value_kind[0] if value_kind else None,
                    instrument_type=INSTRUMENT_TYPES.get(code),
                )
                for analyst in analysts:
                    training.record_training(
                        session,
                        user=analyst,
                        subject=definition.training_subject,
                        trained_on=clock.today(),
                        expires_on=None,
                        recorded_by=manager,
                    )
