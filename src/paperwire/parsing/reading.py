"""Reading input files as a stream of records, whatever the container.

Plain or gzip (told apart by the magic bytes, not the name). Containers: JSON Lines (line by
line), a JSON array (element by element, through :class:`JsonArrayReader`, so a multi-GB
array keeps memory flat), a single JSON object (loaded whole; a ``data`` array inside it
yields the records), and TSV. Every container yields :class:`Item` s: the 1-based line where
the record starts and either its value or why it could not be decoded.

JSON Lines and TSV are *line containers* (:data:`LINE_CONTAINERS`): their items can be
started after a given line (``skip_lines``), the lines before it read but not decoded, which
is how an interrupted import resumes (:func:`file_identity` tells whether a file is the one a
checkpoint was taken on).

Hostile input is bounded: a record nested deeper than :data:`MAX_DEPTH` levels is an error
item (never a ``RecursionError``), and a line longer than :data:`MAX_LINE_BYTES` is skipped
without being held in memory whole.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, cast

from paperwire.errors import ReadError, TooDeep

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024
CHUNK_CHARS = 1 << 20  # text read per step from a JSON array
MAX_ELEMENT_CHARS = 64 << 20  # an array element still undecodable at this size is malformed
MAX_LINE_BYTES = 64 << 20  # a longer line (JSONL, TSV) is skipped unread
MAX_DEPTH = 100  # nesting levels of arrays and objects a record may have
TOO_DEEP = str(TooDeep(MAX_DEPTH))  # the reason given for such a record
IDENTITY_BYTES = 64 * 1024  # bytes hashed at each end of a file for its identity
LINE_CONTAINERS = ("jsonl", "tsv")  # containers whose items can be started after a line


def file_identity(path: Path) -> str:
    """A cheap identity of a file's content: sha256 of its size, its mtime in nanoseconds and
    its first and last :data:`IDENTITY_BYTES` bytes (as stored: compressed for gzip). The
    same file gives the same identity on every run; rewriting, appending to or touching it
    gives a new one (an edit that keeps the size, the mtime and both ends is not seen)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        h.update(f"{st.st_size}:{st.st_mtime_ns}:".encode())
        h.update(f.read(IDENTITY_BYTES))
        if st.st_size > IDENTITY_BYTES:
            f.seek(max(IDENTITY_BYTES, st.st_size - IDENTITY_BYTES))
            h.update(f.read(IDENTITY_BYTES))
    return h.hexdigest()


def depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (decoded JSON) nests at most ``limit`` arrays/objects deep. Iterative:
    a value the decoder built can always be checked, however deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, level = stack.pop()
        if isinstance(v, dict):
            children: Any = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        if level > limit:
            return False
        stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return True


def loads(text: str | bytes) -> Any:
    """``json.loads`` for text from outside: :class:`TooDeep` (a ``ValueError``) instead of a
    ``RecursionError`` or a value nested deeper than :data:`MAX_DEPTH`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(MAX_DEPTH) from None
    if not depth_ok(value):
        raise TooDeep(MAX_DEPTH)
    return value


def raw_decode(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[Any, int]:
    """``decoder.raw_decode`` with the same depth bound as :func:`loads`."""
    try:
        value, end = decoder.raw_decode(text, pos)
    except RecursionError:
        raise TooDeep(MAX_DEPTH) from None
    if not depth_ok(value):
        raise TooDeep(MAX_DEPTH)
    return value, end


class Item(NamedTuple):
    line: int
    value: Any
    error: str | None = None


def describe(exc: BaseException) -> str:
    """A short reason for an error raised while reading a file."""
    if isinstance(exc, EOFError):
        return "truncated gzip: the compressed data ends early"
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return f"corrupt gzip data: {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text: {exc.reason} at byte {exc.start}"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return str(exc)


READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


class InputFile:
    """An open input file; ``stream`` gives the (decompressed) bytes and ``position()`` the
    offset reached in the file on disk (for progress)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self.size = os.fstat(self.raw.fileno()).st_size
            self.gzipped = self.raw.read(2) == GZIP_MAGIC
            self.raw.seek(0)
        except OSError:
            self.raw.close()
            raise
        self.stream: IO[bytes] = (
            cast(IO[bytes], gzip.GzipFile(fileobj=self.raw, mode="rb"))
            if self.gzipped
            else self.raw
        )
        # members of a wrapper object around the records (filled in while reading)
        self.meta: dict[str, Any] = {}

    def position(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        self.stream.close()
        self.raw.close()

    def __enter__(self) -> InputFile:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def container(self) -> str:
        """'array', 'object', 'jsonl', 'tsv', 'empty' or 'unknown', from the first bytes."""
        head = b""
        try:
            while len(head) < SNIFF_BYTES and (chunk := self.stream.read(8192)):
                head += chunk
        except READ_ERRORS:
            if not head:
                raise
            # damaged further on: reported with its line when the records are read
        self.stream.seek(0)
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not head:
            return "empty"
        first_line = head.split(b"\n", 1)[0]
        if head[:1] == b"[":
            return "array"
        if head[:1] == b"{":
            # One object per line, or one pretty-printed object (whose first line is "{").
            if first_line.strip() == b"{":
                return "object"
            return "jsonl"
        if b"\t" in first_line:
            return "tsv"
        return "unknown"

    def items(self, container: str, skip_lines: int = 0) -> Iterator[Item]:
        """The records; with ``skip_lines`` (line containers only) those after that line,
        the lines before it being read but not decoded."""
        if skip_lines and container not in LINE_CONTAINERS:
            raise ValueError(f"cannot start a {container} container after a line")
        if container == "array":
            return iter_json_array(self.stream)
        if container == "object":
            return iter_json_object(self.stream, self.meta)
        if container == "tsv":
            return iter_tsv(self.stream, skip_lines=skip_lines)
        return iter_jsonl(self.stream, skip_lines=skip_lines)


def _long_line(max_bytes: int) -> str:
    return f"line longer than {max_bytes:,} bytes: skipped unread"


def _lines(
    stream: IO[bytes], max_bytes: int = MAX_LINE_BYTES, skip: int = 0
) -> Iterator[tuple[int, bytes | None]]:
    """The lines of ``stream`` with their numbers; None for a line over ``max_bytes``, which
    is read past in bounded pieces, never held whole. The first ``skip`` lines are read past
    and not yielded (nor decoded)."""
    lineno = 0
    while True:
        try:
            raw = stream.readline(max_bytes + 1)
        except READ_ERRORS as exc:
            raise ReadError(lineno + 1, describe(exc)) from exc
        if not raw:
            return
        lineno += 1
        if len(raw) <= max_bytes or raw.endswith(b"\n"):
            if lineno > skip:
                yield lineno, raw
            continue
        try:
            while (rest := stream.readline(min(max_bytes, 1 << 20))) and not rest.endswith(b"\n"):
                pass
        except READ_ERRORS as exc:
            raise ReadError(lineno, describe(exc)) from exc
        if lineno > skip:
            yield lineno, None


def iter_jsonl(
    stream: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES, skip_lines: int = 0
) -> Iterator[Item]:
    for lineno, raw in _lines(stream, max_line_bytes, skip_lines):
        if raw is None:
            yield Item(lineno, None, _long_line(max_line_bytes))
            continue
        if raw.isspace():
            continue
        try:
            value = loads(raw)
        except UnicodeDecodeError as exc:
            yield Item(lineno, None, f"not UTF-8 text: {exc.reason}")
            continue
        except TooDeep as exc:
            yield Item(lineno, None, str(exc))
            continue
        except ValueError as exc:
            msg = _json_msg(exc) if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield Item(lineno, None, f"invalid JSON: {msg}")
            continue
        yield Item(lineno, value)


def iter_tsv(
    stream: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES, skip_lines: int = 0
) -> Iterator[Item]:
    """Tab-separated fields per line (a header line is just the first item)."""
    for lineno, raw in _lines(stream, max_line_bytes, skip_lines):
        if raw is None:
            yield Item(lineno, None, _long_line(max_line_bytes))
            continue
        try:
            line = raw.decode("utf-8-sig").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            yield Item(lineno, None, f"not UTF-8 text: {exc.reason}")
            continue
        if line.strip():
            yield Item(lineno, line.split("\t"))


def iter_json_array(stream: IO[bytes], chunk_chars: int = CHUNK_CHARS) -> Iterator[Item]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = JsonArrayReader()
    try:
        while True:
            try:
                chunk = text.read(chunk_chars)
            except READ_ERRORS as exc:
                raise ReadError(reader.line, describe(exc)) from exc
            if not chunk:
                break
            yield from reader.feed(chunk)
        yield from reader.finish()
    finally:
        with suppress(ValueError):  # closed already when the import was interrupted
            text.detach()  # the InputFile closes the stream


def iter_json_object(stream: IO[bytes], meta: dict[str, Any]) -> Iterator[Item]:
    """A whole JSON object. With a ``data`` array (the HF API wrapper ``{status, date, count,
    data}``) the elements of ``data`` are the records and the other members go into ``meta``
    (before the first record comes out); otherwise the object is one record."""
    try:
        text = stream.read().decode("utf-8-sig")
    except READ_ERRORS as exc:
        raise ReadError(None, describe(exc)) from exc
    try:
        obj = loads(text)
    except json.JSONDecodeError as exc:
        yield Item(exc.lineno, None, f"invalid JSON: {_json_msg(exc)} (the file is one object)")
        return
    except TooDeep as exc:
        yield Item(1, None, f"{exc} (the file is one object)")
        return
    if not (isinstance(obj, dict) and isinstance(obj.get("data"), list)):
        yield Item(1, obj)
        return
    meta.update((k, v) for k, v in obj.items() if k != "data")
    start, end = _member_span(text, "data")
    reader = JsonArrayReader(first_line=text.count("\n", 0, start) + 1)
    yield from reader.feed(text[start:end])
    yield from reader.finish()


def _member_span(text: str, name: str) -> tuple[int, int]:
    """Where the value of the top-level member ``name`` lies in ``text``, a valid object."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0) + 1  # past '{'
    span = (0, 0)
    while True:
        pos = _skip_ws(text, pos)
        if text[pos] == "}":
            return span
        if text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past ':'
        _, end = decoder.raw_decode(text, pos)
        if key == name:
            span = (pos, end)  # the last one wins, as in json.loads
        pos = end


_WS = re.compile(r"[ \t\n\r]*")


def _json_msg(exc: json.JSONDecodeError) -> str:
    """The decoder's message without its dangling 'at' (the position is given apart)."""
    return exc.msg.removesuffix(" at").removesuffix(" starting")


def _skip_ws(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos

_START, _FIRST, _VALUE, _SEP, _END, _RESYNC, _DONE = range(7)
# a string (whole, or cut short at the end of the text) or a bracket
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]', re.S)


def _value_end(text: str, pos: int) -> int | None:
    """Where the array or object starting at ``text[pos]`` ends, by counting brackets outside
    strings (no recursion, so any depth); None when the text ends first."""
    depth = 0
    for m in _STRUCTURE.finditer(text, pos):
        token = m.group()
        if token in "[{":
            depth += 1
        elif token in "]}":
            depth -= 1
            if depth == 0:
                return m.end()
        elif token == '"':
            return None  # a string cut short by the end of the text
    return None
_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")
_NUM_START = "-0123456789"
_NUM_TAIL = re.compile(r"[0-9eE+\-.]*")


def _ran_out(buf: str, exc: json.JSONDecodeError) -> bool:
    """Whether decoding failed only because the text ends (more might make it valid)."""
    if exc.msg.startswith("Unterminated string"):
        return True
    tail = buf[exc.pos :].strip()
    if not tail:
        return True
    if "escape" in exc.msg and len(buf) - exc.pos <= 12:  # a \uXXXX cut short
        return True
    if _NUM_TAIL.fullmatch(tail):  # a number cut short: "0." "1e" "-"
        return True
    return len(tail) < 10 and any(word.startswith(tail) for word in _LITERALS)


class JsonArrayReader:
    """Incremental reader of one top-level JSON array.

    Feed it text chunks of any size; it yields an :class:`Item` per element as soon as the
    element is complete (``json.JSONDecoder.raw_decode`` on a buffer that holds only the
    unfinished part), so memory stays at about one element. Errors are items too:

    * a malformed element is reported at its first line; reading resumes at the next line
      that starts an element at the same indentation (pretty-printed arrays), or stops
      there for arrays on one line;
    * input that ends inside the array (a half-written file) gives one item at the line of
      the unfinished element; all elements before it were yielded.
    """

    def __init__(self, first_line: int = 1, max_element_chars: int = MAX_ELEMENT_CHARS) -> None:
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._at_line_start = True  # whether self._buf[0] starts a line
        self._line = first_line  # line number at self._pos
        self._state = _START
        self._retry_at = 0  # pending size at which to try an unfinished element again
        self._resync = ""  # text that starts the next element, after a malformed one
        self._max = max_element_chars

    @property
    def line(self) -> int:
        return self._line

    def feed(self, chunk: str) -> list[Item]:
        if self._state == _DONE or (self._state == _END and not chunk.strip()):
            return []
        self._compact()
        self._buf += chunk
        return self._drain(final=False)

    def finish(self) -> list[Item]:
        items = self._drain(final=True)
        if self._state in (_FIRST, _VALUE, _SEP):
            items.append(Item(self._line, None, "truncated: the array ends without ']'"))
        self._state = _DONE
        self._buf, self._pos = "", 0
        return items

    def _compact(self) -> None:
        if self._pos == 0:
            return
        # Keep the start of the current line: resyncing needs the element's indentation.
        cut = self._buf.rfind("\n", 0, self._pos) + 1
        if cut > 0:
            self._at_line_start = True
        elif self._at_line_start and not self._buf[: self._pos].strip():
            return  # only the indentation of the current line: keep it
        else:
            cut, self._at_line_start = self._pos, False
        self._buf = self._buf[cut:]
        self._pos -= cut

    def _advance(self, to: int) -> None:
        self._line += self._buf.count("\n", self._pos, to)
        self._pos = to

    def _drain(self, final: bool) -> list[Item]:
        items: list[Item] = []
        buf = self._buf
        while self._state != _DONE:
            if self._state == _RESYNC:
                if not self._find_next_element(final):
                    break
                continue
            self._advance(_skip_ws(buf, self._pos))
            if self._pos >= len(buf):
                break
            ch = buf[self._pos]
            if self._state == _START:
                if ch != "[":
                    items.append(Item(self._line, None, "not a JSON array"))
                    self._state = _DONE
                    break
                self._advance(self._pos + 1)
                self._state = _FIRST
            elif self._state == _END:
                items.append(Item(self._line, None, "unexpected data after the end of the array"))
                self._state = _DONE
            elif self._state == _SEP:
                if ch in ",]":
                    self._advance(self._pos + 1)
                    self._state = _VALUE if ch == "," else _END
                else:
                    items.append(self._malformed("expected ',' or ']' before this element"))
            elif ch == "]":
                if self._state == _VALUE:
                    items.append(Item(self._line, None, "invalid JSON: ',' before ']'"))
                self._advance(self._pos + 1)
                self._state = _END
            else:
                item = self._element(final)
                if item is None:
                    break
                items.append(item)
        return items

    def _element(self, final: bool) -> Item | None:
        """Decode the element at the current position; None when it is not all here yet."""
        buf, pos = self._buf, self._pos
        pending = len(buf) - pos
        if not final and pending < self._retry_at:
            return None
        try:
            value, end = raw_decode(self._decoder, buf, pos)
        except TooDeep as exc:
            return self._too_deep(str(exc), final)
        except json.JSONDecodeError as exc:
            unfinished = _ran_out(buf, exc)
            if unfinished and not final and pending <= self._max:
                self._retry_at = 2 * pending  # don't re-decode a big element per small chunk
                return None
            if unfinished and final:
                self._state = _DONE
                return Item(self._line, None, f"truncated: the input ends inside this element "
                                              f"({_json_msg(exc)})")
            where = self._line + buf.count("\n", pos, exc.pos)
            return self._malformed(f"invalid JSON: {_json_msg(exc)} (line {where})")
        if buf[pos] in _NUM_START and _NUM_TAIL.fullmatch(buf, end):
            # a number up to the end of the text: the next chunk may go on with it
            if not final:
                self._retry_at = pending + 1
                return None
            self._state = _DONE
            return Item(self._line, None, "truncated: the input ends inside this element")
        self._retry_at = 0
        item = Item(self._line, value)
        self._advance(end)
        self._state = _SEP
        return item

    def _too_deep(self, reason: str, final: bool) -> Item | None:
        """Skip an element nested too deeply: past its closing bracket when it is all here,
        else wait for more text (None)."""
        buf, pos = self._buf, self._pos
        end = _value_end(buf, pos)
        if end is None:
            pending = len(buf) - pos
            if not final and pending <= self._max:
                self._retry_at = 2 * pending
                return None
            if final:
                self._state = _DONE
                return Item(self._line, None, f"{reason}; truncated: the input ends inside it")
            return self._malformed(reason)
        self._retry_at = 0
        item = Item(self._line, None, reason)
        self._advance(end)
        self._state = _SEP
        return item

    def _malformed(self, reason: str) -> Item:
        """Report the element at the current position as bad and look for the next one."""
        buf, pos = self._buf, self._pos
        line_start = buf.rfind("\n", 0, pos) + 1
        indent = buf[line_start:pos]
        item = Item(self._line, None, reason)
        if indent.strip() or (line_start == 0 and not self._at_line_start):
            self._state = _DONE  # elements do not start lines: no safe place to resume
            return item._replace(error=f"{reason}; the rest of the array was not read")
        self._resync = "\n" + indent + buf[pos]
        self._advance(pos + 1)
        self._state = _RESYNC
        return item

    def _find_next_element(self, final: bool) -> bool:
        idx = self._buf.find(self._resync, self._pos)
        if idx < 0:
            if final:
                self._state = _DONE
            else:  # keep only a tail that could hold the start of the marker
                self._advance(max(self._pos, len(self._buf) - len(self._resync) + 1))
            return False
        self._advance(idx + len(self._resync) - 1)
        self._state = _VALUE
        return True
