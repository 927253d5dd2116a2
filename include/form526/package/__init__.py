"""One submission -> one package for VBA.

- `submission`: `parse_submission(row) -> Submission`, the typed view every other module reads.
- `build`: `build_package(row, evidence=(), out=None) -> Package`, the zip (PDFs, metadata, mappings).
- `attachments`: `AttachedEvidence`, one upload's outcome, and how evidence is named in the zip.
- `evidence`: `convert_to_pdf`, an uploaded file as a PDF (or a reason it cannot be included).
- `errors`: `PackageError` and its stable, PII-free error codes.
- `form526ez`, `ancillary`, `toxic`, `metadata`, `fields`, `theme`, `text_safety`: the renderers and their helpers.
"""
