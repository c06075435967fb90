"""Materials and their lots: receipt into quarantine, QA's disposition, expiry and units-aware consumption."""
