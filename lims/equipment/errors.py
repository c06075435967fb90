"""The refusals of equipment: items that must not be used, calibrations that cannot be recorded as given,
and maintenance and impact assessments that are already open or closed."""

from __future__ import annotations

from lims.errors import Conflict, InvalidInput


class EquipmentUnusable(Conflict):
    """Equipment that is overdue for calibration, out of tolerance, under maintenance or retired is not used."""


class CalibrationOverdue(EquipmentUnusable):
    """An item past its calibration due date, or never calibrated, is not used."""


class EquipmentOutOfTolerance(EquipmentUnusable):
    """An item whose last calibration found it out of tolerance is not used until calibrated again."""


class EquipmentUnderMaintenance(EquipmentUnusable):
    """An item with open maintenance is not used."""


class EquipmentRetired(EquipmentUnusable):
    """A retired item stays in the registry with its history, but is never used, calibrated or retired again."""


class NoCalibrationPoints(InvalidInput):
    """A calibration checks the item's points, so an item without points cannot be calibrated."""


class ReadingsMismatch(InvalidInput):
    """A calibration has an as-found reading for each of the item's active points, and for no other point."""


class UnknownReferenceStandard(InvalidInput):
    """A calibration names a registered reference standard."""


class ReferenceStandardMismatch(InvalidInput):
    """A calibration's reference standard measures the quantity of every point it checks (no thermometer as the
    standard for a pipette)."""


class ReferenceStandardExpired(InvalidInput):
    """A calibration uses a reference standard valid on the day it was performed."""


class CertificateRefused(InvalidInput):
    """A calibration certificate is a non-empty PDF, PNG or JPEG of at most 10 MB."""


class CorrectsOtherEquipment(InvalidInput):
    """A calibration's correction is recorded on the item the corrected calibration was of."""


class MaintenanceAlreadyOpen(Conflict):
    """An item has one open maintenance record at a time."""


class MaintenanceClosed(Conflict):
    """Closed maintenance stays as it was closed."""


class AssessmentClosed(Conflict):
    """A closed impact assessment stays as QA concluded and signed it."""


class NotACentrifuge(InvalidInput):
    """Only a centrifuge states a rotor radius."""
