"""A reader's library: saved papers with tags, a private note and a reading state — its
formats (BibTeX, CSL-JSON, JSON export; BibTeX and arXiv-id lists imported), notes rendered
safely, and the use cases over ``store.library`` (export, import, private feeds)."""
