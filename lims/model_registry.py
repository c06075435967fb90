"""Imports every area's models so one metadata describes the whole schema."""
from __future__ import annotations


def import_all_models() -> None:
    """Import the models of every area (alembic and the app factory need them all)."""
    import lims.audit.models  # noqa: F401
    import lims.equipment.service.calibrations  # noqa: F401  (models, and their signing rules)
    import lims.identity.models  # noqa: F401
    import lims.signatures.models  # noqa: F401
    import lims.testing.service  # noqa: F401  (models, and their signing rules)
    import batch_records.service  # noqa: F401  (models, and their signing rules)
    import protocols.service  # noqa: F401  (models, and their signing rules)
