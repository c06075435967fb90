"""The rules of submissions and samples, a module per part: ``submissions`` (drafts, submitting, cancelling, the
lifecycle), ``manifests`` (rows checked whole, files read and written), ``accessioning`` (receipt and accession
numbers), ``events`` (the clients' change feed and webhooks)."""
