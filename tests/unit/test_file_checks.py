"""Files of the factory's data: known by their header, every row checked, errors by line."""

from datetime import UTC, date, datetime

import pytest

from core.adapters.spreadsheets import UnreadableFile, read_tables, write_xlsx
from core.domain.imports import Checked, TableKind, check_tables, describe, facts_of, layout_of
from core.domain.imports import Skipped as NothingSkipped
from core.domain.stock import MoveKind
from core.materials import MaterialCatalog
from tests.fakes import MATERIALS, NOW

CATALOG = MaterialCatalog(MATERIALS)


def check(name: str, text: str) -> Checked:
    return check_tables(read_tables(name, text.encode()), CATALOG, NOW)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("key,name,unit,currency", TableKind.MATERIALS),
        ("Date;Material;Kind;Quantity;Unit", TableKind.MOVES),
        ("vendor,material,price,breaks,quoted_at", TableKind.QUOTES),
        ("\ufefftimestamp,material,price", TableKind.PRICES),
        ("price,material,timestamp", TableKind.PRICES),
    ],
)
def test_a_table_is_known_by_its_header_in_any_order_and_case(header: str, kind: TableKind) -> None:
    layout = layout_of(header.replace(";", ",").split(","))
    assert not isinstance(layout, str) and layout.kind is kind


def test_an_unknown_header_or_column_says_which_headers_work() -> None:
    problem = layout_of(["when", "what"])
    assert isinstance(problem, str) and "known by its header: materials key,name" in problem
    extra = layout_of(["vendor", "material", "price", "colour"])
    assert extra == (
        "column 'colour' is not one I know: a quotes table has vendor,material,price[,currency,"
        "delivery_days,min_order_qty,pack_size,valid_until,rating,breaks,quoted_at]"
    )


def test_stock_moves_take_units_semicolons_and_decimal_commas() -> None:
    checked = check(
        "moves.csv",
        "date;material;kind;quantity;unit;reference;note\n"
        "2026-11-01;Copper;receive;2,500;kg;PO 12;\n"
        "2026-11-02T08:30:00Z;cu;use;1,5;;;for line 3\n"
        "2026-11-03;aluminum;COUNT;0;t;;\n",
    )
    assert checked.ok, checked.problems.describe()
    moves = checked.plan.moves
    assert [(m.material, m.kind, m.quantity) for m in moves] == [
        ("copper", MoveKind.RECEIVE, 2.5),
        ("copper", MoveKind.USE, 1.5),
        ("aluminium", MoveKind.COUNT, 0.0),
    ]
    assert moves[0].at == datetime(2026, 11, 1, tzinfo=UTC) and moves[0].reference == "PO 12"
    assert moves[1].at == datetime(2026, 11, 2, 8, 30, tzinfo=UTC) and moves[1].note == "for line 3"


def test_every_bad_row_is_reported_by_line_and_nothing_is_planned() -> None:
    checked = check(
        "moves.csv",
        "date,material,kind,quantity\n"
        "2026-11-01,copper,use,5\n"
        '2026-11-01,copper,use,"12,5x"\n'
        "2026-13-01,copper,use,5\n"
        "2026-11-01,unobtainium,use,5\n"
        "2026-11-01,copper,steal,5\n"
        "2027-01-01,copper,use,5\n"
        "2026-11-01,copper,use,0\n",
    )
    assert not checked.ok
    assert checked.problems.describe() == [
        "line 3: quantity '12,5x' is not a number",
        "line 4: date '2026-13-01' is not a date or time like 2026-11-24 or 2026-11-24T14:05:00Z",
        "line 5: unknown material 'unobtainium' (did you mean aluminium?)",
        "line 6: kind 'steal' is not receive, use or count",
        "line 7: date 2027-01-01 00:00 is in the future",
        "line 8: quantity '0' must be above 0 (a count may be 0)",
    ]


def test_at_most_ten_errors_are_listed_then_how_many_more() -> None:
    rows = "".join(f"2026-11-01,copper,use,x{i}\n" for i in range(25))
    problems = check("moves.csv", "date,material,kind,quantity\n" + rows).problems.describe()
    assert len(problems) == 11 and problems[-1] == "and 15 more"
    assert problems[0] == "line 2: quantity 'x0' is not a number"


def test_quotes_take_breaks_and_leave_out_what_they_do_not_say() -> None:
    checked = check(
        "quotes.csv",
        "vendor,material,price,currency,delivery_days,min_order_qty,pack_size,valid_until,rating,breaks\n"
        'Nordic Copper AB,copper,"9,150",,10d,25 t,5,2026-12-31,4.5,"50:9100,100:9000"\n'
        "Acme,steel,510,EUR,,,,,,\n",
    )
    assert checked.ok, checked.problems.describe()
    nordic, acme = checked.plan.quotes
    assert (nordic.price, nordic.currency, nordic.delivery_days, nordic.min_order_qty) == (
        9150,
        "USD",
        10,
        25,
    )
    assert nordic.valid_until == date(2026, 12, 31) and nordic.rating == 4.5
    assert [(b.quantity, b.price) for b in nordic.breaks] == [(50, 9100), (100, 9000)]
    assert (acme.currency, acme.delivery_days, acme.rating, acme.breaks) == ("EUR", None, None, ())
    assert describe("quotes.csv", facts_of(checked.plan), CATALOG.keys, NothingSkipped()) == (
        "quotes.csv: 2 quotes, 2 materials, 2 vendors"
    )


def test_a_file_may_name_materials_it_adds() -> None:
    content = write_xlsx(
        [
            (
                "materials",
                ["key", "name", "unit", "currency", "aliases"],
                [["zinc", "Zinc", "t", "usd", "zn"]],
            ),
            (
                "stock moves",
                ["date", "material", "kind", "quantity"],
                [["2026-11-01", "zn", "count", 12]],
            ),
        ]
    )
    checked = check_tables(read_tables("all.xlsx", content), CATALOG, NOW)
    assert checked.ok, checked.problems.describe()
    assert checked.plan.materials[0].material.currency == "USD"
    assert checked.plan.moves[0].material == "zinc"


def test_sheet_errors_name_the_sheet() -> None:
    content = write_xlsx(
        [
            ("prices", ["timestamp", "material", "price"], [["2026-11-01", "copper", -3]]),
            ("notes", ["whatever"], [["x"]]),
        ]
    )
    problems = check_tables(read_tables("all.xlsx", content), CATALOG, NOW).problems.describe()
    assert problems[0].startswith("notes: the header 'whatever' is none I know")
    assert problems[1] == "prices line 2: price '-3' is not above zero"


def test_the_same_rows_give_the_same_digest_however_the_file_is_laid_out() -> None:
    csv_file = check("a.csv", "date,material,kind,quantity\n2026-11-01,copper,use,2500 kg\n")
    other = check("b.csv", "kind;quantity;material;date\nuse;2,5;Copper;2026-11-01T00:00:00Z\n")
    assert csv_file.plan.digest() == other.plan.digest()
    changed = check("c.csv", "date,material,kind,quantity\n2026-11-01,copper,use,2.6\n")
    assert changed.plan.digest() != csv_file.plan.digest()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.jpg", b"\xff\xd8\xff", "photo.jpg is not a CSV or XLSX file"),
        ("empty.csv", b"", "empty.csv is empty"),
        ("broken.xlsx", b"PK\x03\x04 not really", "broken.xlsx cannot be read as an XLSX file"),
        ("binary.csv", b"\x00\x01\x02", "binary.csv is not a text CSV file"),
    ],
)
def test_files_that_cannot_be_read_get_one_line(name: str, content: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile) as refused:
        read_tables(name, content)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_a_header_without_rows_is_not_an_import() -> None:
    assert check("moves.csv", "date,material,kind,quantity\n").problems.describe() == [
        "the file has a header but no rows"
    ]
