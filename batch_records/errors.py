"""The refusals of batch records: master record versions and their design, batches, the order and the
entries of their steps, deviations, and release."""

from __future__ import annotations

from lims.audit.errors import ReasonRequired
from lims.errors import Conflict, InvalidInput
from lims.signatures.errors import SamePersonRefused

# Master batch records


class MbrIncomplete(InvalidInput):
    """A master record version goes to review with its steps and the release tests a batch needs."""


class YieldDesignRefused(InvalidInput):
    """An expected yield is a theoretical yield above zero with its acceptable range in percent of it."""


class ParameterUnitsDisagree(InvalidInput):
    """A parameter's unit, target and limit are quantities of one kind."""


# Batches


class StartingMaterialIdentityRefused(InvalidInput):
    """Chain of identity: a starting material is named by the lab's identifier rule (an ISBT 128 donation
    identification number with its check character by default), never by a person's data."""


class StartingMaterialUsed(Conflict):
    """Chain of identity: one starting material makes one batch."""


class BatchLocked(Conflict):
    """A released or rejected batch is read-only; one in quarantine waits for QA's decision."""


class AlreadyInQuarantine(Conflict):
    """A batch in quarantine is not quarantined again."""


class ReleaseRefused(Conflict):
    """A batch is released only when its review by exception finds nothing open."""


class DispositionByContributor(SamePersonRefused):
    """Segregation of duties: whoever performed, recorded on or verified a step or a release result of a batch
    does not sign its release or rejection, whatever their roles."""


class QcSamplesNotTaken(Conflict):
    """Release results are entered once the step where the master record says QC samples are taken is completed."""


# Steps


class StepOutOfOrder(Conflict):
    """Steps are executed in the master record's order."""


class HoldPointPending(StepOutOfOrder):
    """The step after a hold point waits until QA has reviewed the hold point."""


class StepDone(Conflict):
    """A completed or skipped step is not worked on again; its entries change by correction."""


class StepNotSkippable(Conflict):
    """Only a step the master record marks as skippable is skipped."""


class StepNotCompleted(Conflict):
    """A step is verified or reviewed once its performer has completed it."""


class StepIncomplete(InvalidInput):
    """A step is signed as performed once it has its required values, equipment, lots and yield."""


class PerformerSignatureMissing(Conflict):
    """A step is verified only while its performer's signature holds."""


class NotCalledFor(InvalidInput):
    """What is recorded at a step is what the batch's design calls for there (its equipment, materials, yield,
    verification and hold point), and the step is one of the batch's."""


# Entries


class EntryUnreadable(InvalidInput):
    """An entry is a value in its parameter's unit, or in a unit of the same kind."""


class NeedsRotorRadius(InvalidInput):
    """rpm and × g convert only through the rotor radius of the centrifuge the step used, as its record states."""


class LateEntryWithoutReason(ReasonRequired):
    """An entry recorded well after what it observes says why it is recorded only now."""


class AlreadyRecorded(Conflict):
    """A value or result, or the item of an equipment type a step needs, is recorded once; changing a value is a
    correction with a reason."""


class EntryReplaced(Conflict):
    """A corrected entry is history: the newest value is the one corrected again."""


# Deviations


class DeviationClosed(Conflict):
    """A closed deviation no longer changes."""


class DeviationIncomplete(InvalidInput):
    """A deviation is closed with its classification, investigation, root cause, assessment, conclusion and CAPA."""


class EntriesRefused(InvalidInput):
    """A step's entries are recorded all or none: several refused values are refused together."""
