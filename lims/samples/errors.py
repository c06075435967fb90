"""The refusals of submissions, manifests, accessioning and webhooks."""

from __future__ import annotations

from dataclasses import dataclass

from lims.errors import Conflict, InvalidInput


@dataclass(frozen=True)
class RowError:
    """What is wrong with one cell of a manifest: its row (from 1, the header not counted) and column."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}, {self.column}: {self.message}"


class ManifestRefused(InvalidInput):
    """A manifest is taken whole or not at all: one wrong cell refuses every row, and every wrong cell is listed."""

    def __init__(self, errors: list[RowError]) -> None:
        count = len(errors)
        super().__init__(
            f"The manifest was refused and nothing was imported: {count} error{'' if count == 1 else 's'} "
            "to correct, listed by row and column."
        )
        self.errors = errors

    def by_cell(self) -> dict[str, list[str]]:
        """The messages keyed ``row <n>.<column>``, as the API names each refused cell."""
        cells: dict[str, list[str]] = {}
        for error in self.errors:
            cells.setdefault(f"row {error.row}.{error.column}", []).append(error.message)
        return cells


class UploadRefused(InvalidInput):
    """An uploaded manifest is a CSV or XLSX file within the size and row limits."""


class NotADraft(Conflict):
    """Only a draft manifest changes: rows are added and uploaded before it is submitted."""


class NotCancellable(Conflict):
    """A client cancels a draft or a submitted manifest; once a sample has arrived it is the lab's to handle."""


class EmptyManifest(Conflict):
    """A manifest is submitted with at least one sample on it."""


class NotReceivable(Conflict):
    """Samples are received against a submitted manifest, each once."""


class StorageRefused(InvalidInput):
    """A storage unit holds a range of temperatures (lowest first); a box has 1 to 26 rows and columns; a position
    is one of its box's, written as its row letter and column number (B4)."""


class UnsuitableStorage(Conflict):
    """A sample is stored only where the unit's temperatures meet its storage requirement: a −80 °C sample is not
    put in a 4 °C fridge."""


class PositionOccupied(Conflict):
    """A box position holds one sample at most."""


class CustodyRefused(Conflict):
    """A sample is in one place at a time: a stored sample is moved, not stored again; a sample out for testing is
    returned before it is stored; a shipped or disposed sample is no longer the lab's to store or move."""


class CustodyOutOfOrder(InvalidInput):
    """A custody event happens after the sample's previous one, and not in the future."""


class AliquotRefused(InvalidInput):
    """Aliquots are split from an accepted sample with a recorded volume; each is a volume, and together they take
    no more than what remains of the parent."""


class ReceiptRefused(InvalidInput):
    """A receipt states when it arrived (not in the future), the temperature on arrival, and a reason to reject."""


class WebhookRefused(InvalidInput):
    """A webhook is an https address (http only to this machine, for testing) with a secret of 16 characters or more."""


class BadCursor(InvalidInput):
    """The change feed goes on from a cursor it gave out."""


class NotInLifecycle(Conflict):
    """An accepted sample goes into testing, then has its results released; nothing else moves it on."""


class NotPrintable(Conflict):
    """A chain-of-custody form travels with a submitted manifest; labels are printed for received samples."""


class NotTestable(Conflict):
    """Tests are assigned to, and results entered for, an accepted sample whose results are not yet released."""


class AlreadyAssigned(Conflict):
    """A sample has each test once; a result that needs changing is corrected, with a reason."""


class ResultAlreadyRecorded(Conflict):
    """A test has one result in force: a second is a correction of the first, with a reason."""


class NotReleasable(Conflict):
    """QA releases a submission's results once every accepted sample has its tests' results, each verified by a
    second person, and no sample is still expected."""
