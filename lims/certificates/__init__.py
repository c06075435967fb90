"""Issued documents: batch certificates (of analysis and release) signed with the facility's key, kept unchanged,
corrected by new versions, revoked with QA's signature and verified by anyone; and final-product bag labels."""
