"""``paperwire import | search | similar | eval | index``: papers in, papers found."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.table import Table

from paperwire.cli.common import (
    EXIT_PARTIAL,
    EXIT_USAGE,
    application,
    cell,
    emit_json,
    err,
    fail,
    out,
    terminal_text,
)
from paperwire.models import Paper, quote_id


def _paper_path(paper_id: str) -> str:
    return "/papers/" + quote_id(paper_id)


def import_(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to import.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="arxiv, hf, kaggle, beir, seed or listing-dates; "
                     "detected per file when left out."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    batch_size: Annotated[int, typer.Option(
        min=1, hidden=True, help="Records per transaction (and checkpoint).")] = 1000,
) -> None:
    """Import papers and signals from JSONL/JSON files, plain or gzip. An import that was
    interrupted resumes where it stopped (JSONL and TSV files)."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise typer.BadParameter(f"{missing[0]} does not exist")
    from paperwire.errors import SearchError

    app = application()
    report = app.import_files(paths, fmt=fmt, progress=progress and not as_json,
                              batch_size=batch_size, sync=False)
    try:
        app.sync_lexical()
        unindexed = None
    except SearchError as exc:  # the import stands; say so after its report
        unindexed = exc
    if as_json:
        emit_json(report.to_dict())
    else:
        lines = [f"resumed {path} at line {line + 1:,}: an interrupted import had done the "
                 f"lines before" for path, line in report.resumed]
        lines += [f"skipped {where}: {reason}" for where, reason in report.skipped[:20]]
        if report.skipped_count > 20:
            lines.append(f"… and {report.skipped_count - 20:,} more skipped")
        lines += [f"failed {where}: {reason}" for where, reason in report.files_failed]
        lines += [f"warning: cut to size {where}: {fields}"
                  for where, fields in report.truncated[:20]]
        if report.truncated_count > 20:
            lines.append(f"… and {report.truncated_count - 20:,} more cut to size")
        sys.stderr.write("".join(terminal_text(line) + "\n" for line in lines))
        sys.stdout.write(report.summary() + "\n")
    if unindexed is not None:
        fail(f"the papers are imported, but {unindexed}")
    if not report.ok:
        raise typer.Exit(EXIT_PARTIAL)


def search(
    query: Annotated[str, typer.Argument(help='What to find; supports "phrases", -word, '
                                         "author:, cat:, title:, after:, before:, year:. "
                                         "A query may start with '-' (-word).")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many results.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, lexical or dense.")] = "hybrid",
    sort: Annotated[str, typer.Option(help="relevance, date or trending.")] = "relevance",
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these categories (any of them); repeatable.")] = None,
    author: Annotated[list[str] | None, typer.Option(
        "--author", help="Only papers by this author; repeatable.")] = None,
    after: Annotated[str | None, typer.Option(help="First version on or after (YYYY[-MM[-DD]]).")]
    = None,
    before: Annotated[str | None, typer.Option(
        help="First version on or before (YYYY[-MM[-DD]]).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search papers: keywords and meaning together (hybrid), with filters."""
    from paperwire.search import MODES, SearchOptions
    from paperwire.search.query import SORTS, Sort, parse_date_bound

    if mode not in MODES:
        raise typer.BadParameter(f"--mode must be one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise typer.BadParameter(f"--sort must be one of {', '.join(SORTS)}")
    options = SearchOptions(
        categories=tuple(category or ()), authors=tuple(author or ()),
        after=parse_date_bound(after, "after") if after else None,
        before=parse_date_bound(before, "before") if before else None,
        sort=cast(Sort, sort), limit=limit,
    )
    app = application()
    hits = app.search(query, mode=mode, options=options)
    spelling = app.spelling(query, mode)
    if as_json:
        emit_json({"query": query, "mode": mode, "sort": sort, "spelling": spelling, "results": [
            {"id": h.paper.id, "score": round(h.score, 4), "title": h.paper.title,
             "authors": list(h.paper.authors), "categories": list(h.paper.categories),
             "published": h.paper.published, "url": h.paper.abs_url,
             "lexical_rank": h.lexical_rank, "dense_rank": h.dense_rank}
            for h in hits]})
        return
    if spelling:
        fixed = " ".join(spelling.get(w, w) for w in query.split())
        out.print(cell(f"Showing results for “{fixed}” (corrected from “{query}”)."))
    if not hits:
        out.print("No papers match.")
        return
    table = Table("#", "id", "title", "published", box=None, highlight=False)
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), cell(h.paper.id), cell(h.paper.title),
                      str(h.paper.published or ""))
    out.print(table)


def similar(
    ids: Annotated[list[str] | None, typer.Argument(help="Paper ids (one, or a reading list).")]
    = None,
    text: Annotated[str | None, typer.Option(help="A pasted abstract or description.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many papers.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Papers similar to some papers and/or to a pasted text."""
    if not ids and not text:
        raise typer.BadParameter("give paper ids, --text, or both")
    app = application()
    known, missing = app.stored_ids(ids or [])
    if missing:
        fail(f"no paper with id {missing[0]!r} is stored")
    hits = app.similar(known, text=text, limit=limit)
    if as_json:
        emit_json({"ids": ids or [], "text": text, "results": [
            {"id": h.paper.id, "title": h.paper.title, "score": round(h.score, 4)}
            for h in hits]})
        return
    table = Table("#", "id", "title", box=None, highlight=False)
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), cell(h.paper.id), cell(h.paper.title))
    out.print(table if hits else "No similar papers found.")


def show(
    ref: Annotated[str, typer.Argument(help="An arXiv id (2606.30534, hep-th/9901001, with or "
                                       "without a version or arXiv:), an arXiv, Hugging Face "
                                       "or alphaXiv link, a DOI, or a stored paper's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show one paper: title, authors, dates, categories, abstract and links. A paper not
    stored exits 1, a malformed id 2."""
    from paperwire.paper_ids import INVALID, parse_ref

    app = application()
    parsed = parse_ref(ref)
    if parsed is not None and parsed.kind == INVALID:
        fail(parsed.invalid, EXIT_USAGE)
    paper = app.paper_for(parsed) if parsed is not None else app.paper(
        app.merged_into(ref.strip()) or ref.strip())
    if paper is None:
        fail(parsed.not_stored if parsed else f"No paper {ref.strip()!r} here.")
    url = app.url(_paper_path(paper.id))
    if as_json:
        emit_json({**paper_dict(paper), "url": url})
        return
    sys.stdout.write("".join(terminal_text(line) + "\n" for line in paper_lines(paper, url)))


def paper_dict(p: Paper) -> dict[str, object]:
    """A paper's fields, as ``paperwire show --json`` prints them."""
    return {"id": p.id, "title": p.title, "authors": list(p.authors),
            "categories": list(p.categories), "primary_category": p.primary_category,
            "version": p.version, "published": p.published, "updated": p.updated,
            "abstract": p.abstract, "comment": p.comment, "journal_ref": p.journal_ref,
            "doi": p.doi, "abs_url": p.abs_url, "pdf_url": p.pdf_url}


def paper_lines(p: Paper, url: str) -> list[str]:
    """A paper as plain lines: title, facts, the abstract, links."""
    facts = [("id", p.id + (f" (v{p.version})" if p.version else "")),
             ("authors", ", ".join(p.authors)),
             ("published", str(p.published or "")), ("updated", str(p.updated or "")),
             ("categories", " ".join(dict.fromkeys(
                 ([p.primary_category] if p.primary_category else []) + list(p.categories)))),
             ("comment", p.comment or ""), ("journal", p.journal_ref or ""),
             ("doi", p.doi or "")]
    lines = [" ".join(p.title.split()), ""]
    for name, value in facts:
        lines += textwrap.wrap(value, 88, initial_indent=f"{name + ':':<12}",
                               subsequent_indent=" " * 12, break_long_words=False,
                               break_on_hyphens=False)
    lines += ["", *textwrap.wrap(" ".join(p.abstract.split()), 88)]
    links = [("here", url), ("arXiv", p.abs_url), ("PDF", p.pdf_url)]
    lines += ["", *(f"{name + ':':<12}{link}" for name, link in links if link)]
    return lines


def eval_cmd(
    folder: Annotated[Path, typer.Argument(help="A BEIR-layout folder (corpus, queries, qrels).")],
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    mode: Annotated[str, typer.Option(help="lexical, dense or hybrid.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Measure search quality (nDCG@10, Recall@100, MRR@10) and latency on a BEIR data set."""
    from paperwire.evaluate import evaluate
    from paperwire.search.engine import MODES

    if mode not in MODES:
        raise typer.BadParameter(f"--mode must be one of {', '.join(MODES)}")
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")
    say = None if as_json else (lambda msg: err.print(msg, markup=False, highlight=False))
    result = evaluate(folder, split=split, mode=mode, progress=say)
    if as_json:
        emit_json(result.to_dict())
        return
    table = Table("measure", "value", box=None, highlight=False)
    for key, value in result.to_dict().items():
        table.add_row(key, str(value))
    out.print(table)


def index_cmd(
    embed: Annotated[bool, typer.Option(help="Also embed new and changed papers "
                                        "(semantic search).")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Bring the search indexes up to date: BM25, and embeddings for semantic search."""
    from rich.progress import Progress

    todo = 0
    with Progress(console=err, disable=not progress) as bar:
        task = bar.add_task("embedding papers", total=None)

        def show(done: int, total: int) -> None:
            nonlocal todo
            todo = total
            bar.update(task, completed=done, total=total)

        docs = application().index(embed=embed, on_progress=show)
    if docs is None:
        out.print("Another process is the index writer (paperwire serve or worker): it keeps "
                  "the search indexes up to date.")
        return
    vectors = f"; {todo:,} papers embedded" if embed else ""
    out.print(f"Search index up to date: {docs:,} papers{vectors}.")


def register(root: typer.Typer) -> None:
    root.command("import")(import_)
    root.command(context_settings={"ignore_unknown_options": True})(search)
    root.command()(similar)
    root.command()(show)


def register_tools(root: typer.Typer) -> None:
    root.command("eval")(eval_cmd)
    root.command("index")(index_cmd)
