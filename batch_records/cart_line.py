"""The CAR-T line: how HLX-19, an autologous anti-CD19 CAR-T product, is made, and the builder of a line to make it on.

The designs are plain data: the full process (``CART_HLX19``, the demo's twelve steps from apheresis receipt to
cryopreservation), a compact one with a step of each kind (``COMPACT``, what the tests execute) and alike steps in
any number (``uniform_design``, what the benchmarks measure). ``draft_master`` turns a design into a draft master
record; ``build_line`` makes, through the services, everything a batch needs around an effective one: calibrated
equipment, a released lot of medium, the release tests, and subjects of an effective protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from batch_records.models import TYPICAL_STAGES, DonorType, MbrVersion
from batch_records.service import masters
from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentType
from lims.equipment.service.inventory import create_equipment
from lims.identity.models import Organization, User
from lims.materials.models import Material, MaterialLot
from lims.materials.service import create_material, receive_lot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind, TestDefinition
from lims.training import service as training
from lims.units.kinds import ValueKind
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from protocols.models import ReferenceEvent, Subject
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service

PRODUCT = "HLX-19 autologous anti-CD19 CAR-T"


@dataclass(frozen=True)
class ParameterDesign:
    name: str
    unit: str
    limit: str | None = None
    target: str | None = None
    required: bool = True
    #: None: the kind the unit suggests (non-negative with a dimension, else signed)
    kind: ValueKind | None = None


@dataclass(frozen=True)
class StepDesign:
    step: masters.StepDesignInput
    parameters: tuple[ParameterDesign, ...] = ()
    #: (part number, quantity) the step takes from a released lot
    materials: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MasterDesign:
    code: str
    change_summary: str
    steps: tuple[StepDesign, ...]
    #: the codes of the QC tests whose results release a batch
    release_tests: tuple[str, ...]
    product: str = PRODUCT
    donor_type: DonorType = DonorType.AUTOLOGOUS


_BSC, _INCUBATOR = EquipmentType.BIOSAFETY_CABINET, EquipmentType.INCUBATOR
_BALANCE, _FREEZER, _CENTRIFUGE = EquipmentType.BALANCE, EquipmentType.FREEZER, EquipmentType.CENTRIFUGE
_FRACTION, _NON_NEGATIVE = ValueKind.FRACTION, ValueKind.NON_NEGATIVE

CART_HLX19 = MasterDesign(
    code="CART-HLX19",
    change_summary="First issue, for the HLX-301 phase 3 study.",
    release_tests=(
        "QC-VIAB",
        "QC-TVC",
        "QC-CD3",
        "QC-TDX",
        "QC-VCN",
        "QC-STER",
        "QC-ENDO",
        "QC-MYCO",
        "QC-ID",
        "QC-POT",
    ),
    steps=(
        StepDesign(
            masters.StepDesignInput(
                stage="Starting-material receipt",
                title="Receive the leukapheresis bag and check its chain of identity",
                instruction="Before opening the shipper, check the bag label (subject code, ISBT 128 donation number, "
                "collection date and time) against the shipping manifest and the subject record. Record the "
                "data logger's temperature, the time since the end of collection and the bag's net weight. "
                "Quarantine the bag if any identifier does not match.",
                second_person_verification=True,
                equipment_types=(_BALANCE,),
            ),
            (
                ParameterDesign("Time since end of collection", "h", "≤ 48 h"),
                ParameterDesign("Shipper temperature on receipt", "°C", "2–8 °C"),
                ParameterDesign("Bag net weight", "g", "100–320 g"),
            ),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Starting-material receipt",
                title="Sample for pre-processing count, viability and CD3+ content",
                instruction="In the cabinet, take 1 mL through the sampling port and send it to QC for the "
                "nucleated cell "
                "count, viability (AO/DAPI) and CD3+ content by flow cytometry.",
                equipment_types=(_BSC,),
            ),
            (
                ParameterDesign("Total nucleated cells", "cells", "≥ 5 ×10^9 cells"),
                ParameterDesign("Viability", "%", "≥ 80 %", kind=_FRACTION),
                ParameterDesign("CD3+ of leukocytes", "%", "≥ 15 %", kind=_FRACTION),
            ),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="T-cell selection",
                title="CD4/CD8 immunomagnetic selection",
                instruction="Wash the product, label it with CD4 and CD8 GMP microbeads and run the enrichment "
                "programme "
                "on the closed processing system. Resuspend the positive fraction in TexMACS medium. Hold "
                "point: QA reviews purity and recovery before activation.",
                hold_point=True,
                equipment_types=(_BSC,),
            ),
            (
                ParameterDesign("CD3+ purity of the positive fraction", "%", "≥ 80 %", kind=_FRACTION),
                ParameterDesign("Viable cells recovered", "cells", "≥ 5 ×10^8 cells"),
            ),
            materials=(("MED-001", "50 mL"),),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Activation",
                title="Activate with anti-CD3/CD28 nanomatrix and seed the culture bag",
                instruction="Seed 1 ×10^8 viable selected cells at 1 ×10^6 cells/mL in TexMACS medium with IL-2 at "
                "100 IU/mL and TransAct at 1:100, then place the bag in the incubator.",
                equipment_types=(_BSC, _INCUBATOR),
            ),
            (
                ParameterDesign("Viable cells seeded", "cells", "0.8–1.2 ×10^8 cells", target="1 ×10^8 cells"),
                ParameterDesign("Seeding density", "cells/mL", "0.8–1.2 ×10^6 cells/mL"),
                ParameterDesign("Culture volume", "mL", "90–110 mL"),
            ),
            materials=(("MED-001", "100 mL"), ("IL2-001", "10000 IU")),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Transduction",
                title="Transduce with the anti-CD19 CAR lentiviral vector (day 1)",
                instruction="Check the vector lot and its label against this record, thaw it at room temperature "
                "and add "
                "it at MOI 5 in the cabinet. Return the bag to the incubator.",
                second_person_verification=True,
                equipment_types=(_BSC, _INCUBATOR),
            ),
            (
                ParameterDesign("Hours after activation", "h", "20–28 h"),
                ParameterDesign("Multiplicity of infection", "", "4–6", target="5", kind=_NON_NEGATIVE),
                ParameterDesign("Vector volume added", "mL", "≤ 10 mL"),
            ),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Expansion",
                title="Expansion culture, days 2 to 5",
                instruction="Keep the bag in the incubator. Read the incubator display each morning and check its "
                "alarm "
                "log; raise a deviation for any alarm. Record the day-5 readings and count.",
                equipment_types=(_INCUBATOR,),
            ),
            (
                ParameterDesign("Incubator temperature, day 5", "°C", "36.5–37.5 °C"),
                ParameterDesign("Incubator CO2, day 5", "%", "4.5–5.5 %", kind=_FRACTION),
                ParameterDesign("Viable cell density, day 5", "cells/mL", "≥ 1 ×10^6 cells/mL"),
            ),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Expansion",
                title="Medium exchange and IL-2 feed (day 5)",
                instruction="In the cabinet, add 150 mL TexMACS medium with IL-2 to 100 IU/mL final.",
                equipment_types=(_BSC,),
            ),
            (
                ParameterDesign("Medium added", "mL", "140–160 mL"),
                ParameterDesign("Culture volume after the feed", "mL", "240–260 mL"),
            ),
            materials=(("MED-001", "150 mL"), ("IL2-001", "20000 IU")),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Expansion",
                title="Medium top-up (day 6), only above 3 ×10^6 cells/mL",
                instruction="Count the culture. Only when the viable density exceeds 3 ×10^6 cells/mL add 50 mL "
                "TexMACS "
                "medium; otherwise skip this step and state the density.",
                skippable=True,
                equipment_types=(_BSC,),
            ),
            (
                ParameterDesign("Viable cell density before the top-up", "cells/mL", "> 3 ×10^6 cells/mL"),
                ParameterDesign("Medium added", "mL", "45–55 mL"),
            ),
            materials=(("MED-001", "50 mL"),),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Harvest",
                title="Harvest, wash and count (day 9)",
                instruction="Harvest the culture on the closed system, wash twice and resuspend. Count the viable "
                "cells; "
                "a second person checks the count and the yield.",
                second_person_verification=True,
                equipment_types=(_BSC,),
                theoretical_yield=parse_measurement("2 ×10^9 cells"),
                yield_minimum_percent=Decimal(50),
                yield_maximum_percent=Decimal(150),
            ),
            (
                ParameterDesign("Viable cell concentration", "cells/mL", "≥ 5 ×10^6 cells/mL"),
                ParameterDesign("Viability at harvest", "%", "≥ 80 %", kind=_FRACTION),
            ),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Formulation",
                title="Formulate the dose in CryoStor CS10",
                instruction="Calculate the dose from the subject's weight (2 ×10^6 CAR+ viable T cells/kg) and the "
                "transduction efficiency, resuspend in CryoStor CS10 and fill the infusion bags; weigh each "
                "bag. A second person checks the calculation and the bag labels. Take the QC release samples "
                "from the formulated product and send them to QC.",
                second_person_verification=True,
                qc_sampling=True,
                equipment_types=(_BSC, _BALANCE),
            ),
            (
                ParameterDesign("Dose, CAR+ viable T cells", "cells", "1–2.5 ×10^8 cells"),
                ParameterDesign("Bags filled", "", "1–4", kind=_NON_NEGATIVE),
                ParameterDesign("Fill volume per bag", "mL", "20–70 mL"),
            ),
            materials=(("CS10-001", "60 mL"),),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Cryopreservation",
                title="Controlled-rate freezing",
                instruction="Load the bags into the controlled-rate freezer within 30 minutes of adding CS10 and run "
                "programme CAR-01 to -90 °C.",
            ),
            (
                ParameterDesign("Minutes from CS10 addition to programme start", "min", "≤ 30 min"),
                ParameterDesign("Chamber temperature at programme end", "°C", "≤ -90 °C"),
            ),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Cryopreservation",
                title="Transfer to interim storage",
                instruction="Move the bags in their cassettes to the ultra-low freezer for interim storage (72 h "
                "at most) "
                "before the vapour-phase LN2 store; record the freezer display and the rack position.",
                equipment_types=(_FREEZER,),
            ),
            (ParameterDesign("Freezer display temperature", "°C", "≤ -70 °C"),),
        ),
    ),
)

#: One step of each kind: second-person verification, a hold point with equipment and a material, skippable, a yield
#: (where QC samples are taken).
COMPACT = MasterDesign(
    code="CART-001",
    change_summary="First issue",
    release_tests=("VIAB", "STER"),
    steps=(
        StepDesign(
            masters.StepDesignInput(
                stage="Starting-material receipt",
                title="Receive apheresis bag",
                instruction="Check the label against the chain-of-identity record; record volume and temperature.",
                second_person_verification=True,
            ),
            (
                ParameterDesign("Volume", "mL", "50–300 mL"),
                ParameterDesign("Temperature on receipt", "°C", "2–8 °C"),
                ParameterDesign("Remarks count", "", required=False, kind=_NON_NEGATIVE),
            ),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="T-cell selection",
                title="CD4/CD8 selection",
                instruction="Wash and select in the cabinet.",
                hold_point=True,
                equipment_types=(_BSC, _CENTRIFUGE),
            ),
            (ParameterDesign("CD3+ purity", "%", "≥ 80 %", kind=_FRACTION),),
            materials=(("MED-001", "250 mL"),),
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Expansion",
                title="Optional medium top-up",
                instruction="Top up only if the count is low.",
                skippable=True,
            )
        ),
        StepDesign(
            masters.StepDesignInput(
                stage="Harvest",
                title="Harvest and count",
                instruction="Harvest the cells and count them; take the QC release samples.",
                second_person_verification=True,
                qc_sampling=True,
                theoretical_yield=parse_measurement("2 ×10^9 cells"),
                yield_minimum_percent=Decimal(50),
                yield_maximum_percent=Decimal(150),
            ),
            (ParameterDesign("Viable cell concentration", "cells/mL", "≥ 1 ×10^6 cells/mL"),),
        ),
    ),
)

#: What the steps of a uniform design ask for, cycled; only the first kind has a limit.
UNIFORM_PARAMETERS = (
    ParameterDesign("Volume", "mL", "50–300 mL"),
    ParameterDesign("Temperature", "°C"),
    ParameterDesign("Viable cell concentration", "cells/mL"),
)
#: in a uniform design, every third step uses one of these in turn, and every fourth takes this much medium
UNIFORM_EQUIPMENT = (_BSC, _CENTRIFUGE)
UNIFORM_MEDIUM = ("MED-001", "10 mL")


def uniform_design(code: str, *, steps: int, parameters: int) -> MasterDesign:
    """``steps`` steps spread over the typical stages, each verified by a second person and with ``parameters``
    parameters; every third step needs a piece of equipment and every fourth the medium, so the steps repeat every
    twelve. QC samples are taken at the last step and the batch is released on its viability."""
    designs = []
    for position in range(1, steps + 1):
        equipment = (UNIFORM_EQUIPMENT[position // 3 % len(UNIFORM_EQUIPMENT)],) if position % 3 == 0 else ()
        designs.append(
            StepDesign(
                masters.StepDesignInput(
                    stage=TYPICAL_STAGES[(position - 1) * len(TYPICAL_STAGES) // steps],
                    title=f"Operation {position}",
                    instruction=f"Carry out operation {position} as the SOP describes; record what it asks for.",
                    second_person_verification=True,
                    qc_sampling=position == steps,
                    equipment_types=equipment,
                ),
                tuple(
                    _numbered(UNIFORM_PARAMETERS[index % len(UNIFORM_PARAMETERS)], index) for index in range(parameters)
                ),
                materials=(UNIFORM_MEDIUM,) if position % 4 == 0 else (),
            )
        )
    return MasterDesign(code=code, change_summary="First issue", steps=tuple(designs), release_tests=("VIAB",))


def _numbered(parameter: ParameterDesign, index: int) -> ParameterDesign:
    """The parameter itself the first time round, numbered after that (a step's parameter names are unique)."""
    laps = index // len(UNIFORM_PARAMETERS)
    return parameter if laps == 0 else replace(parameter, name=f"{parameter.name} {laps + 1}")


def draft_master(
    session: Session,
    design: MasterDesign,
    *,
    materials: Mapping[str, Material],
    definitions: Mapping[str, TestDefinition],
) -> MbrVersion:
    """A draft master record of ``design``, taking ``materials`` by part number and ``definitions`` by code."""
    version = masters.create_master(
        session,
        code=design.code,
        product=design.product,
        change_summary=design.change_summary,
        donor_type=design.donor_type,
    )
    for step_design in design.steps:
        step = masters.add_step(session, version, step_design.step)
        for parameter in step_design.parameters:
            masters.add_parameter(
                session,
                step,
                name=parameter.name,
                unit=parameter.unit,
                limit=parameter.limit,
                target=parse_measurement(parameter.target) if parameter.target else None,
                required=parameter.required,
                value_kind=parameter.kind,
            )
        for part_number, quantity in step_design.materials:
            masters.add_material_requirement(
                session, step, material=materials[part_number], quantity=parse_measurement(quantity)
            )
    for code in design.release_tests:
        masters.add_release_test(session, version, definitions[code])
    return version


# The line the tests and the benchmarks make their batches on


@dataclass(frozen=True)
class Crew:
    """Who builds the line, all signing with one password."""

    #: a manager: writes the master record and the protocol, records the training
    author: User
    #: approves them and releases the lot
    qa: User
    #: trained on the master record; the first receives the lot
    operators: tuple[User, ...]
    password: str


@dataclass(frozen=True)
class Line:
    version: MbrVersion
    equipment: Mapping[EquipmentType, Equipment]
    medium: Material
    medium_lot: MaterialLot
    definitions: Mapping[str, TestDefinition]
    subjects: tuple[Subject, ...]


#: (asset tag, name, type) of the line's equipment, a month after calibration
LINE_EQUIPMENT = (
    ("BSC-01", "Class II biosafety cabinet", _BSC),
    ("CEN-01", "Sorvall centrifuge", _CENTRIFUGE),
)
#: the release tests the designs may name: (code, name, method, result kind, unit, specification, value kind)
LINE_TESTS = (
    ("VIAB", "Viability", "7-AAD flow cytometry", ResultKind.QUANTITATIVE, "%", "≥ 70 %", _FRACTION),
    ("STER", "Sterility", "Ph. Eur. 2.6.27", ResultKind.QUALITATIVE, "", "No growth", None),
)
#: the two patients whose material the line is ready to take
SUBJECT_CODES = ("HLX301-DE01-0001", "HLX301-DE01-0002")


def calibrated(session: Session, equipment: Equipment, *, due_on: date) -> Equipment:
    """Set an item's calibration state directly, calibrated a month ago: calibrating is the equipment area's
    business, not the line's."""
    with audit_context.reason_for_change(session, "Arranged for the line: calibrated a month ago"):
        equipment.last_calibrated_on = clock.today() - timedelta(days=30)
        equipment.calibration_due_on = due_on
    return equipment


def build_line(
    session: Session, crew: Crew, *, sponsor: Organization, design: MasterDesign, medium_quantity: str = "1 L"
) -> Line:
    """A released lot of medium, calibrated equipment, the design's release tests (the operators and QA trained on
    their methods), its master record made effective with the operators trained on it, and two subjects of an
    effective protocol of ``sponsor``; dated from the clock's today. The design takes no material but the medium
    (``COMPACT`` and uniform designs)."""
    today = clock.today()
    operator = crew.operators[0]
    medium = create_material(
        session,
        part_number="MED-001",
        name="TexMACS GMP medium",
        specification="Sterile",
        storage_condition="2–8 °C",
        unit="mL",
    )
    medium_lot = receive_lot(
        session,
        medium,
        supplier="Miltenyi Biotec",
        supplier_lot="7231104",
        received_on=today - timedelta(days=2),
        expires_on=today + timedelta(days=90),
        quantity=parse_measurement(medium_quantity),
        user=operator,
    )
    signatures.sign(session, medium_lot, meaning=SignatureMeaning.RELEASED, user=crew.qa, password=crew.password)

    equipment: dict[EquipmentType, Equipment] = {}
    for tag, name, kind in LINE_EQUIPMENT:
        item = create_equipment(
            session,
            asset_tag=tag,
            name=name,
            equipment_type=kind,
            location="Suite B",
            manufacturer="Acme",
            model="X",
            serial_number=tag,
            calibration_interval_days=365,
            owner=None,
        )
        equipment[kind] = calibrated(session, item, due_on=today + timedelta(days=200))

    definitions = {
        code: testing.create_definition(
            session,
            code=code,
            name=name,
            method=method,
            result_kind=kind,
            unit=unit,
            specification=specification,
            value_kind=value_kind,
        )
        for code, name, method, kind, unit, specification, value_kind in LINE_TESTS
        if code in design.release_tests
    }
    for definition in definitions.values():
        for analyst in (*crew.operators, crew.qa):
            training.record_training(
                session,
                user=analyst,
                subject=definition.training_subject,
                trained_on=today - timedelta(days=10),
                expires_on=None,
                recorded_by=crew.author,
            )
    version = build_master(session, crew, design, materials={medium.part_number: medium}, definitions=definitions)
    return Line(
        version=version,
        equipment=equipment,
        medium=medium,
        medium_lot=medium_lot,
        definitions=definitions,
        subjects=_trial_subjects(session, crew, sponsor),
    )


def build_master(
    session: Session,
    crew: Crew,
    design: MasterDesign,
    *,
    materials: Mapping[str, Material],
    definitions: Mapping[str, TestDefinition],
) -> MbrVersion:
    """The master record of ``design``, authored, approved and effective, with the crew's operators trained on it."""
    today = clock.today()
    version = draft_master(session, design, materials=materials, definitions=definitions)
    signatures.sign(session, version, meaning=SignatureMeaning.AUTHORED, user=crew.author, password=crew.password)
    signatures.sign(session, version, meaning=SignatureMeaning.APPROVED, user=crew.qa, password=crew.password)
    versioning.make_effective(session, version)
    for trained in crew.operators:
        training.record_training(
            session,
            user=trained,
            subject=version.training_subject,
            trained_on=today - timedelta(days=10),
            expires_on=None,
            recorded_by=crew.author,
        )
    return version


def _trial_subjects(session: Session, crew: Crew, sponsor: Organization) -> tuple[Subject, ...]:
    """The subjects of an effective protocol with one arm and an apheresis visit, enrolled 20 days ago."""
    today = clock.today()
    protocol = protocol_service.create_protocol(
        session,
        number="HLX-301",
        title="HLX-19 in r/r DLBCL",
        sponsor=sponsor,
        phase=protocol_service.parse_phase("Phase 3"),
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    design = protocol.versions[0]
    arm = design_service.add_arm(session, design, code="A", name="HLX-19")
    design_service.add_visit(
        session, design, code="APH", name="Apheresis", reference_event=ReferenceEvent.APHERESIS, day_offset=0
    )
    signatures.sign(session, design, meaning=SignatureMeaning.AUTHORED, user=crew.author, password=crew.password)
    signatures.sign(session, design, meaning=SignatureMeaning.APPROVED, user=crew.qa, password=crew.password)
    versioning.make_effective(session, design)
    return tuple(
        subjects_service.enrol_subject(
            session,
            protocol,
            code=code,
            site="DE-01",
            arm=arm,
            enrolled_on=today - timedelta(days=20),
            consent_version="2.0",
        )
        for code in SUBJECT_CODES
    )
