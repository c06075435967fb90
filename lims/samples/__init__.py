"""Samples: client start-ups' submissions (manifests), accessioning, and what a client follows of them."""
