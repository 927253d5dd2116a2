"""Form 526 backlog resubmission and failure triage, as plain Python (no Airflow import).

Sub-packages by concern, imported in one direction (``source`` and ``package`` know nothing of delivery or
triage; ``delivery`` uses ``source`` and ``package``; ``triage`` uses ``source`` and reads the ledger through
``delivery.ledger``):

* ``source``   reading vets-api: the state SQL, selection, extraction, dedup;
* ``package``  one submission -> the zip VBA receives (typed view, PDFs, metadata, mappings);
* ``delivery`` ledger, object store, batch delivery, reconciliation report;
* ``triage``   explaining new failures, grouped by cause;
* ``config``, ``pii``, ``scope``, ``pipeline``  settings, log hygiene, run parameters, and the run steps the
  operators call.
"""
