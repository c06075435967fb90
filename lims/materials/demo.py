"""Materials' part of the demo data set: three materials with released, quarantined and expired lots."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user, sign
from lims.materials import service as materials
from lims.materials.models import Material
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement

#: (part number, name, specification, storage, unit counted in, [(supplier, supplier lot, received days ago,
#:  expires in days, quantity, disposition: "released" | "quarantine")])
MATERIALS = (
    (
        "MED-001",
        "TexMACS GMP cell culture medium",
        "Sterile; endotoxin < 0.5 EU/mL; CoA per lot",
        "2–8 °C, dark",
        "mL",
        [
            ("Miltenyi Biotec", "7231104", 40, 140, "1 L", "released"),
            ("Miltenyi Biotec", "7235518", 2, 200, "1 L", "quarantine"),
        ],
    ),
    (
        "IL2-001",
        "IL-2 (proleukin), GMP grade",
        "≥ 1.8 ×10^7 IU/mg; sterile",
        "2–8 °C",
        "IU",
        [("Clinigen", "P22-0871", 200, -3, "22e6 IU", "released")],
    ),
    (
        "CS10-001",
        "CryoStor CS10 freezing medium",
        "10 % DMSO; sterile; endotoxin < 0.5 EU/mL",
        "2–8 °C",
        "mL",
        [("BioLife Solutions", "BLS-44810", 45, 320, "500 mL", "released")],
    ),
)


def load_materials(session: Session) -> None:
    """The manager specifies the materials; the technician receives the lots; QA releases them."""
    if session.scalar(select(Material.id).limit(1)) is not None:
        return
    today = clock.today()
    manager, technician, qa = (demo_user(session, username) for username in ("m.larsen", "t.nguyen", "q.okafor"))
    for part_number, name, specification, storage, unit, lots in MATERIALS:
        with acting_as(session, manager):
            material = materials.create_material(
                session,
                part_number=part_number,
                name=name,
                specification=specification,
                storage_condition=storage,
                unit=unit,
            )
        for supplier, supplier_lot, received_days_ago, expires_in, quantity, disposition in lots:
            received_on = today - timedelta(days=received_days_ago)
            with acting_as(session, technician):
                lot = materials.receive_lot(
                    session,
                    material,
                    supplier=supplier,
                    supplier_lot=supplier_lot,
                    received_on=received_on,
                    expires_on=today + timedelta(days=expires_in),
                    quantity=parse_measurement(quantity),
                    user=technician,
                )
            if disposition == "released":
                # QA released it the day after receipt, when even the lot now expired was still valid.
                with clock.frozen(clock.now() - timedelta(days=received_days_ago - 1)):
                    sign(session, lot, SignatureMeaning.RELEASED, qa)
