"""The refusals of protocols: phases the lab does not serve, the version lifecycle, subject codes that could
identify a person, enrolment, and visit windows."""

from __future__ import annotations

from lims.errors import InvalidInput


class EarlierPhase(InvalidInput):
    """The lab serves trials after phase II."""

    def __init__(self, phase_text: str) -> None:
        super().__init__(f"The lab serves trials after phase II; {phase_text.strip()!r} is earlier.", field="phase")


class UnknownPhase(InvalidInput):
    """A phase is one the LIMS knows: phase 2/3, phase 3, phase 4 or post-marketing."""


class NotAnNctId(InvalidInput):
    """An NCT number is NCT and 8 digits."""


class VersionIncomplete(InvalidInput):
    """A protocol version goes to review with at least one arm and one visit."""


class SubjectCodeRefused(InvalidInput):
    """A subject code is pseudonymous: letters and digits in dashed parts, nothing like a name, a medical record
    number or a date of birth."""


class NoEffectiveVersion(InvalidInput):
    """Subjects are enrolled under the protocol's effective version."""


class ArmNotInVersion(InvalidInput):
    """A subject is enrolled in an arm of the version they are enrolled under."""


class VisitNotYetDated(InvalidInput):
    """A visit's window has dates only once its reference event has happened."""


class TextTooLong(InvalidInput):
    """A text is kept whole: one longer than its field holds is refused with both lengths, never cut."""


class ControlCharacterInText(InvalidInput):
    """Text holds no invisible control character (other than tab and line breaks): no export could carry it."""
