"""What materials contribute: materials and lots, their pages, QA's lot disposition, the quarantine queue and the
demo's materials."""

from __future__ import annotations

from lims.audit.naming import named_by_column
from lims.dashboard.service import WorkQueue
from lims.identity.models import RoleName
from lims.materials import compliance, demo, service, views
from lims.materials.models import Material, MaterialLot
from lims.registry import Registry
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import SignableType


def register(registry: Registry) -> None:
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.blueprint(views.blueprint)
    registry.navigation("Materials", "materials.index", order=42)
    registry.signable(
        SignableType(
            MaterialLot,
            {SignatureMeaning.RELEASED: frozenset({RoleName.QA}), SignatureMeaning.REJECTED: frozenset({RoleName.QA})},
            before_signing=service.check_lot_disposition,
            after_signing=service.apply_lot_disposition,
            name=lambda lot: f"lot {lot.lot_number} of {lot.material.name}",
            next_step=service.next_after_lot_disposition,
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Lots in quarantine",
            description="Received material lots waiting for QA's release or rejection.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: service.count_awaiting_release(session),
            endpoint="materials.index",
        )
    )
    registry.record_names(named_by_column(MaterialLot, "lot", MaterialLot.lot_number, identifier_hint="a lot number"))
    registry.record_names(
        named_by_column(
            Material, "material", Material.part_number, referent=Material.name, identifier_hint="a part number"
        )
    )
    registry.demo_loader(demo.load_materials)
