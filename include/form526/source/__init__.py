"""Reading vets-api read-only: the source schema, which submissions failed, extraction and dedup."""
