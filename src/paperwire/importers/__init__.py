"""Importing papers, signals and listing dates from files.

    from paperwire.importers import run_import, ImportReport, FORMATS
    report = run_import(store, [Path("data/")], fmt=None, progress=False)

Formats (detected per file from its first record unless ``fmt`` is given):

``arxiv``          daily arXiv crawl JSONL: id, title, summary, authors, categories, comment
``hf``             Hugging Face daily-papers API dumps (JSON array, repr strings, wrapper)
``kaggle``         Kaggle ``arxiv-metadata-oai-snapshot.json`` lines
``beir``           BEIR ``corpus.jsonl``: _id, title, text
``seed``           ``{rank, title, abstract}`` lines without ids
``listing-dates``  TSV ``id, first_listing_file_date, ...``: lowers ``published``

Files may be plain or gzip, JSON Lines, JSON arrays (read element by element), a JSON
object with a ``data`` array, or TSV. Modules: ``reading`` (containers), ``formats``
(records), ``runner`` (batches, progress, order), ``report``.
"""

from paperwire.importers.report import FileReport, ImportReport
from paperwire.importers.runner import run_import
from paperwire.parsing.formats import FORMATS

__all__ = ["FORMATS", "FileReport", "ImportReport", "run_import"]
