"""`PRICE_SOURCE=csv:PATH`: a CSV file the factory appends to.

The header names the columns `timestamp,material,price` (any order, extra columns ignored).
Each poll reads only the bytes after the last complete line already taken, so a poll costs what
was appended, not the file's size; a line still being written (no newline yet) waits for the
next poll. The read position moves on only once the rows are stored (FeedBatch.confirm), and is
kept in the StateStore, so a restart neither rereads the file nor skips rows. A file that was
replaced or truncated (shorter than the position, or different in its first bytes) is read from
the start again; the rows stored before are recognised as duplicates.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import FeedError
from core.models import FeedRow
from core.ports import FeedBatch, StateStore

COLUMNS = ("timestamp", "material", "price")
FINGERPRINT_BYTES = 4096
MAX_READ_BYTES = 8 * 1024 * 1024  # per poll; a bigger backlog is read over several polls


@dataclass(frozen=True)
class ReadPosition:
    """How far the file was taken: a byte offset at a line start, the number of that line,
    and a hash of the file's first bytes to notice a replaced file."""

    offset: int = 0
    line: int = 1
    fingerprint: str = ""

    def to_json(self) -> str:
        return json.dumps({"offset": self.offset, "line": self.line, "fp": self.fingerprint})

    @classmethod
    def from_json(cls, text: str | None) -> ReadPosition:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(int(data["offset"]), int(data["line"]), str(data["fp"]))
        except (ValueError, KeyError, TypeError):
            return cls()


def _fingerprint(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


class CsvPriceFeed:
    """Reads the rows appended to a CSV file since the last confirmed poll."""

    def __init__(self, path: Path | str, state: StateStore | None = None) -> None:
        self._path = Path(path)
        self._state = state
        self._state_key = f"csv-feed:{self._path.resolve()}"
        self._position: ReadPosition | None = None
        self.name = f"csv:{path}"

    async def fetch(self) -> FeedBatch:
        position = await self._load_position()
        rows, after = await asyncio.to_thread(self._read, position)

        async def confirm() -> None:
            self._position = after
            if self._state is not None and after != position:
                await self._state.set(self._state_key, after.to_json())

        return FeedBatch(rows, confirm)

    async def _load_position(self) -> ReadPosition:
        if self._position is None:
            stored = await self._state.get(self._state_key) if self._state else None
            self._position = ReadPosition.from_json(stored)
        return self._position

    def _read(self, position: ReadPosition) -> tuple[list[FeedRow], ReadPosition]:
        try:
            with self._path.open("rb") as file:
                head = file.read(FINGERPRINT_BYTES)
                header_end = head.find(b"\n")
                if header_end < 0:
                    if len(head) >= FINGERPRINT_BYTES:
                        raise FeedError("the first line (the header) is too long")
                    return [], position  # empty, or the header is still being written
                columns = self._columns(head[:header_end])
                known = head[: min(position.offset, FINGERPRINT_BYTES)]
                if position.offset == 0 or _fingerprint(known) != position.fingerprint:
                    position = ReadPosition(header_end + 1, 2)
                file.seek(0, 2)
                if file.tell() < position.offset:  # truncated: start again
                    position = ReadPosition(header_end + 1, 2)
                file.seek(position.offset)
                chunk = file.read(MAX_READ_BYTES)
        except FileNotFoundError:
            raise FeedError(f"the file {self._path} does not exist") from None
        except OSError as error:
            raise FeedError(f"the file {self._path} cannot be read ({error.strerror})") from None

        complete = chunk[: chunk.rfind(b"\n") + 1]
        rows = []
        line = position.line
        for raw in complete.split(b"\n")[:-1]:
            raw = raw.removesuffix(b"\r")
            if raw.strip():
                rows.append(self._row(raw, line, columns))
            line += 1
        offset = position.offset + len(complete)
        fingerprint = _fingerprint(head[: min(offset, FINGERPRINT_BYTES)])
        return rows, ReadPosition(offset, line, fingerprint)

    def _columns(self, header: bytes) -> dict[str, int]:
        text = header.decode("utf-8-sig", errors="replace")
        names = [name.strip().lower() for name in next(csv.reader([text]), [])]
        if not set(COLUMNS) <= set(names):
            raise FeedError(
                f"the first line must be the header {','.join(COLUMNS)}, found {text.strip()!r}"
            )
        return {column: names.index(column) for column in COLUMNS}

    def _row(self, raw: bytes, line: int, columns: dict[str, int]) -> FeedRow:
        key = f"line {line}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return FeedRow("", None, None, key, problem="not UTF-8 text")
        fields = next(csv.reader([text]), [])
        if len(fields) <= max(columns.values()):
            return FeedRow(
                "", None, None, key, problem=f"expected {len(COLUMNS)} fields, got {len(fields)}"
            )
        return FeedRow(
            fields[columns["material"]].strip(),
            fields[columns["price"]].strip(),
            fields[columns["timestamp"]].strip(),
            key,
        )
