"""The refusals of materials and lots: lots that must not be used, quantities that are not amounts,
and QA's disposition of a lot in quarantine."""

from __future__ import annotations

from lims.errors import Conflict, InvalidInput


class LotUnusable(Conflict):
    """Only a released, unexpired lot with enough left is used."""


class LotExpired(LotUnusable):
    """An expired lot is neither used nor released, whatever its status says."""


class LotNotReleased(LotUnusable):
    """A lot in quarantine, or one QA rejected, is not used."""


class LotExhausted(LotUnusable):
    """A lot gives no more than it has left."""


class LotNotInQuarantine(Conflict):
    """QA's disposition is given once, to a lot in quarantine."""


class NotAnAmount(InvalidInput):
    """Material is counted in a volume, a mass or a number of items."""


class NotInMaterialUnit(InvalidInput):
    """A lot's quantity is in its material's dimension: a material counted in IU gets no lot in mL or in items."""
