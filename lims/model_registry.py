"""Imports every area's models so one metadata describes the whole schema."""
from __future__ import annotations


def import_all_models() -> None:
    """Import the models of every area (alembic and the app factory need them all)."""
    import lims.audit.models  # noqa: F401
    import lims.equipment.service  # noqa: F401  (models, and their signing rules)
    import lims.identity.models  # noqa: F401
    import lims.materials.service  # noqa: F401  (models, and their signing rules)
    import lims.signatures.models  # noqa: F401
    import lims.testing.service  # noqa: F401  (models, and their signing rules)
    import lims.training.models  # noqa: F401
    import batch_records.service.batches  # noqa: F401  (models, and their registrations)
    import batch_records.service.deviations  # noqa: F401  (models, and their signing rules)
    import batch_records.service.execution  # noqa: F401  (models, and their signing rules)
    import batch_records.service.masters  # noqa: F401  (models, and their signing rules)
    import batch_records.service.release  # noqa: F401  (models, and their signing rules)
    import protocols.service  # noqa: F401  (models, and their signing rules)
