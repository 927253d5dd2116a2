"""One submission -> one package: the typed view, the 21-526EZ and ancillary PDFs, metadata, mappings, zip."""
