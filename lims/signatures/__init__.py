"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): one way to sign any signable record."""
