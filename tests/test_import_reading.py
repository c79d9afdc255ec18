"""The reading layer of the importers: containers, gzip sniffing, the streaming JSON-array
reader, and format detection. No database needed."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperwire.importers import FORMATS
from paperwire.parsing.formats import detect
from paperwire.parsing.reading import InputFile, Item, JsonArrayReader, iter_json_array

FIX = Path(__file__).parent / "fixtures" / "import"

ELEMENTS = [
    {"id": "2501.00001", "title": "A [bracketed] \"quoted\" title, with commas", "n": 12345},
    {"id": "2501.00002", "nested": {"a": [1, 2, {"b": "]}"}]}, "t": True, "f": False},
    "a string with \\ backslash, \u00e9 accents, an emoji \U0001f600 and a \\u escape",
    -1.5e-3,
    123456789,
    None,
    [],
    {},
]


def pretty(elements: list[object]) -> str:
    return json.dumps(elements, indent=2, ensure_ascii=False)


def chunked(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def read_all(text: str, size: int) -> list[Item]:
    reader = JsonArrayReader()
    items: list[Item] = []
    for chunk in chunked(text, size):
        items += reader.feed(chunk)
    return items + reader.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("ascii_only", [False, True])
def test_array_reader_gives_the_same_elements_as_json_loads(
    size: int, indent: int | None, ascii_only: bool
) -> None:
    text = json.dumps(ELEMENTS, indent=indent, ensure_ascii=ascii_only)
    items = read_all(text, size)
    assert [i.error for i in items] == [None] * len(ELEMENTS)
    assert [i.value for i in items] == ELEMENTS


def test_array_reader_reports_the_line_where_each_element_starts() -> None:
    text = pretty([{"a": 1}, {"b": 2}, 3])
    items = read_all(text, 7)
    lines = text.splitlines()
    assert [i.line for i in items] == [2, 5, 8]
    assert lines[1].strip() == "{" and lines[4].strip() == "{" and lines[7].strip() == "3"


def test_array_reader_yields_elements_before_the_input_ends() -> None:
    """Streaming: the first element comes out while most of the input is still unread."""
    text = pretty([{"i": i, "pad": "x" * 50} for i in range(200)])
    consumed = 0

    def source() -> Iterator[str]:
        nonlocal consumed
        for chunk in chunked(text, 7):
            consumed += len(chunk)
            yield chunk

    reader = JsonArrayReader()
    first_seen_at = None
    count = 0
    for chunk in source():
        for item in reader.feed(chunk):
            count += 1
            if first_seen_at is None:
                first_seen_at = consumed
                assert item.value == {"i": 0, "pad": "x" * 50}
    count += len(reader.finish())
    assert count == 200
    assert first_seen_at is not None and first_seen_at < len(text) / 50


def test_a_number_cut_by_the_chunk_boundary_is_not_split() -> None:
    reader = JsonArrayReader()
    assert reader.feed("[12") == []
    assert reader.feed("34, tr") == [Item(1, 1234)]
    assert reader.feed("ue]") == [Item(1, True)]
    assert reader.finish() == []


def test_truncated_array_keeps_the_elements_before_and_reports_one_item() -> None:
    text = pretty([{"id": i, "title": f"paper {i}"} for i in range(5)])
    cut = text[: text.index('"paper 3"') + 4]  # half-way through the 4th element
    items = read_all(cut, 7)
    good = [i for i in items if i.error is None]
    bad = [i for i in items if i.error is not None]
    assert [i.value["id"] for i in good] == [0, 1, 2]
    assert len(bad) == 1
    assert bad[0].line == cut.count("\n") - 1  # the line of the unfinished element's "{"
    assert "truncated" in (bad[0].error or "")


def test_array_without_closing_bracket_is_reported() -> None:
    items = read_all('[\n  {"a": 1},\n  {"b": 2}\n', 5)
    assert [i.value for i in items if i.error is None] == [{"a": 1}, {"b": 2}]
    assert [(i.line, i.error) for i in items if i.error] == [
        (4, "truncated: the array ends without ']'")
    ]


def test_malformed_element_is_skipped_and_reading_resumes_at_the_next() -> None:
    text = pretty([{"a": 1}, {"b": 2}, {"c": 3}])
    lines = text.splitlines()
    lines[5] = lines[5].replace('"b": 2', '"b": 2,,')  # inside the 2nd element (line 6)
    items = read_all("\n".join(lines), 7)
    assert [i.value for i in items if i.error is None] == [{"a": 1}, {"c": 3}]
    bad = [i for i in items if i.error]
    assert len(bad) == 1 and bad[0].line == 5 and "invalid JSON" in (bad[0].error or "")
    assert "(line 6)" in (bad[0].error or "")


def test_malformed_element_in_a_one_line_array_stops_with_a_clear_reason() -> None:
    items = read_all('[{"a": 1}, {"b": 2,,}, {"c": 3}]', 7)
    assert items[0] == Item(1, {"a": 1})
    assert len(items) == 2 and items[1].error is not None
    assert "the rest of the array was not read" in items[1].error


def test_data_after_the_array_and_non_arrays_are_reported() -> None:
    assert read_all("[1]\n{}", 3)[-1] == Item(2, None, "unexpected data after the end of the array")
    assert read_all('{"a": 1}', 3) == [Item(1, None, "not a JSON array")]
    assert read_all("[]", 1) == []
    assert read_all("[1,]", 1)[-1].error == "invalid JSON: ',' before ']'"


def test_iter_json_array_over_a_binary_stream_with_small_chunks() -> None:
    text = pretty(ELEMENTS)
    items = list(iter_json_array(io.BytesIO(text.encode("utf-8")), chunk_chars=7))
    assert [i.value for i in items] == ELEMENTS


def test_gzip_is_detected_by_magic_bytes_not_by_name(tmp_path: Path) -> None:
    lines = b'{"a": 1}\n{"a": 2}\n'
    disguised = tmp_path / "plain-looking.jsonl"
    disguised.write_bytes(gzip.compress(lines))
    not_gz = tmp_path / "named.jsonl.gz"
    not_gz.write_bytes(lines)
    for path in (disguised, not_gz):
        with InputFile(path) as f:
            assert f.gzipped == (path == disguised)
            assert f.container() == "jsonl"
            assert [i.value for i in f.items("jsonl")] == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("name", "container"),
    [
        ("arxiv-papers-2025-03-sample.jsonl.gz", "jsonl"),
        ("arxiv-listing-dates-sample.tsv.gz", "tsv"),
        ("hf/2025-07-07.json.gz", "array"),
        ("hf/2025-01-02.json.gz", "array"),
        ("hf/2025-01-10.json.gz", "object"),
        ("beir-scifact-corpus-sample.jsonl", "jsonl"),
        ("seed-papers-sample.jsonl", "jsonl"),
        ("kaggle-arxiv-metadata-sample.jsonl", "jsonl"),
    ],
)
def test_containers_of_the_fixtures(name: str, container: str) -> None:
    with InputFile(FIX / name) as f:
        assert f.container() == container


def test_wrapper_object_yields_data_elements_with_their_lines_and_keeps_the_date() -> None:
    with InputFile(FIX / "hf" / "2025-01-10.json.gz") as f:
        items = list(f.items("object"))
        assert f.meta["date"] == "2025-01-10" and f.meta["count"] == 9
        text = gzip.decompress((FIX / "hf" / "2025-01-10.json.gz").read_bytes()).decode()
    assert len(items) == 9 and all(i.error is None for i in items)
    lines = text.splitlines()
    for item in items:
        assert isinstance(item.value, str)
        assert lines[item.line - 1].strip().startswith('"{\'paper\'')


@pytest.mark.parametrize(
    ("record", "fmt"),
    [
        ({"id": "2503.11731", "pdf": "x", "abs": "y", "summary": "s", "title": "t"}, "arxiv"),
        ({"paper": {"id": "2501.05441"}, "publishedAt": "2025-01-09"}, "hf"),
        ("{'paper': {'id': '2412.19723'}}", "hf"),
        ({"id": "0704.0001", "versions": [], "authors_parsed": [], "abstract": "a"}, "kaggle"),
        ({"_id": "4983", "title": "t", "text": "x", "metadata": {}}, "beir"),
        ({"rank": 1, "title": "t", "abstract": "a"}, "seed"),
        (["id", "first_listing_file_date", "all_listing_file_dates"], "listing-dates"),
        (["2503.11731", "2025-03-18"], "listing-dates"),
        ({"something": "else"}, None),
        (["a", "b"], None),
        (42, None),
    ],
)
def test_detect(record: object, fmt: str | None) -> None:
    assert detect(record) == fmt


def test_formats_tuple() -> None:
    assert FORMATS == ("arxiv", "hf", "kaggle", "beir", "seed", "listing-dates")


def test_array_reader_memory_stays_at_about_one_element() -> None:
    """The buffer never holds much more than a chunk plus one element, however long the
    array (here ~1 MB of 2,000 elements fed in 4 KiB chunks)."""
    element = {"title": "t" * 300, "abstract": "a" * 200}
    text = pretty([dict(element, i=i) for i in range(2000)])
    reader = JsonArrayReader()
    biggest = count = 0
    for chunk in chunked(text, 4096):
        count += len(reader.feed(chunk))
        biggest = max(biggest, len(reader._buf))
    count += len(reader.finish())
    assert count == 2000 and len(text) > 1_000_000
    assert biggest < 4096 + 2 * len(pretty([element]))
