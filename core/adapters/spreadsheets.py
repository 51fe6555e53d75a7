"""CSV and XLSX files as tables of cells (core/domain/imports.py checks them), and XLSX files
written from tables. Plain functions of bytes: the services run them off the event loop.

CSV: UTF-8 (with or without a byte order mark; Windows-1252 as a fallback), separated by commas
or by semicolons (as spreadsheets in countries with a decimal comma save them). XLSX: every
sheet that has anything in it is a table, its first non-empty row the header.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, date, datetime

from core.domain.imports import Cell, RawTable
from core.errors import UserError

SUFFIXES = (".csv", ".xlsx")


class UnreadableFile(UserError):
    """A file that is not a CSV or XLSX file, or cannot be read as one."""


def kind_of(file_name: str) -> str | None:
    """'csv' or 'xlsx' by the file's name, None for anything else."""
    lowered = file_name.lower()
    for suffix in SUFFIXES:
        if lowered.endswith(suffix):
            return suffix[1:]
    return None


def read_tables(file_name: str, data: bytes) -> list[RawTable]:
    """The tables in a CSV or XLSX file; raises UnreadableFile saying what works."""
    kind = kind_of(file_name)
    if kind == "csv":
        return [_read_csv(file_name, data)]
    if kind == "xlsx":
        return _read_xlsx(file_name, data)
    raise UnreadableFile(
        f"{file_name} is not a CSV or XLSX file: I import .csv and .xlsx files (materials, "
        "stock moves, quotes or prices), known by their header row."
    )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _delimiter(header_line: str) -> str:
    """';' when the header is split by semicolons, else ','."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _read_csv(file_name: str, data: bytes) -> RawTable:
    if b"\x00" in data[:4096]:
        raise UnreadableFile(f"{file_name} is not a text CSV file (it looks binary).")
    text = _decode(data)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    header: tuple[str, ...] | None = None
    rows: list[tuple[int, tuple[Cell, ...]]] = []
    try:
        for cells in reader:
            if header is None:
                if any(c.strip() for c in cells):
                    header = tuple(cells)
                continue
            rows.append((reader.line_num, tuple(cells)))
    except csv.Error as error:
        raise UnreadableFile(f"{file_name} line {reader.line_num}: {error}") from None
    if header is None:
        raise UnreadableFile(f"{file_name} is empty: it needs a header row and rows under it.")
    return RawTable(file_name, header, rows)


def _read_xlsx(file_name: str, data: bytes) -> list[RawTable]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise UnreadableFile(f"{file_name} cannot be read as an XLSX file ({error}).") from None
    tables = []
    try:
        for sheet in workbook.worksheets:
            header: tuple[str, ...] | None = None
            rows: list[tuple[int, tuple[Cell, ...]]] = []
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = tuple(_cell(v) for v in values)
                if header is None:
                    if any(c not in (None, "") for c in cells):
                        header = tuple("" if c is None else str(c) for c in cells)
                    continue
                rows.append((number, cells))
            if header is not None:
                name = sheet.title if len(workbook.worksheets) > 1 else file_name
                tables.append(RawTable(name, header, rows))
    finally:
        workbook.close()
    if not tables:
        raise UnreadableFile(f"{file_name} is empty: it needs a header row and rows under it.")
    return tables


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | datetime | date):
        return value
    return str(value)


def write_xlsx(tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Cell]]]]) -> bytes:
    """An XLSX file with one sheet per (title, header, rows); times are written as ISO text
    (UTC), so that they read back the same anywhere."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, header, rows in tables:
        sheet = workbook.create_sheet(title)
        sheet.append(list(header))
        for row in rows:
            sheet.append([_written(c) for c in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _written(cell: Cell) -> object:
    if isinstance(cell, datetime):
        return cell.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(cell, date):
        return cell.isoformat()
    return cell


class SpreadsheetFiles:
    """Implements core.ports.Spreadsheets."""

    def read(self, file_name: str, data: bytes) -> list[RawTable]:
        return read_tables(file_name, data)

    def write(self, tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Cell]]]]) -> bytes:
        return write_xlsx(tables)
