"""Training records: who is trained on what (a master batch record version, an SOP), until when."""
