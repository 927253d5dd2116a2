"""Delivering packages exactly once: the ledger, the object store, batch delivery and the reconciliation report."""
