"""The rules of equipment, one part a module: ``inventory`` (the items and their derived status), ``use`` (the one
use-blocking rule), ``calibrations``, ``maintenance`` and ``impact_assessments``."""
