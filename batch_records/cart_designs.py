"""How HLX-19, an autologous anti-CD19 CAR-T product, is made: master batch record designs as plain data.

The full process (``CART_HLX19``, the demo's twelve steps from apheresis receipt to cryopreservation), a compact one
with a step of each kind (``COMPACT``, what the tests execute) and alike steps in any number (``uniform_design``,
what the benchmarks measure). ``batch_records.cart_line`` drafts a master record from one and builds a line around it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from batch_records.models import TYPICAL_STAGES, DonorType
from batch_records.service import masters
from lims.equipment.models import EquipmentType
from lims.units.kinds import ValueKind
from lims.units.parsing import parse_measurement

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
