"""Quantities as buyers type them, converted to the material's unit."""

import pytest

from core.domain.units import BadQuantity, parse_number, parse_quantity


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("5", "t", 5.0),
        ("5t", "t", 5.0),
        ("5 t", "t", 5.0),
        ("2.5", "t", 2.5),
        ("2,500 kg", "t", 2.5),
        ("500kg", "t", 0.5),
        ("1,200 lb", "t", 0.54431084),
        ("1,200 lbs", "kg", 544.31084),
        ("3 tonnes", "kg", 3000.0),
        ("0.5 T", "t", 0.5),
        ("12,5", "t", 12.5),
        ("1,234,567", "kg", 1234567.0),
        (".5", "t", 0.5),
        ("250", "pcs", 250.0),
        ("250 pcs", "pcs", 250.0),
        ("0", "t", 0.0),
    ],
)
def test_quantities_are_read_and_converted_to_the_materials_unit(
    text: str, unit: str, expected: float
) -> None:
    assert parse_quantity(text, unit) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "unit", "message"),
    [
        ("five", "t", "'five' is not a quantity: write the quantity as 5, 5t, 2.5 t, 2,500 kg"),
        ("5x", "t", "'x' is not a unit I know: write the quantity as 5, 5t"),
        ("12,5x", "t", "'x' is not a unit I know"),
        ("1,2345", "t", "'1,2345' is not a quantity"),
        ("2.5.1", "t", "'2.5.1' is not a quantity"),
        ("-5", "t", "'-5' is not a quantity"),
        ("5 kg", "pcs", "kg cannot be converted to pcs: write the quantity as 5, 2.5 or 5 pcs"),
        ("", "t", "'' is not a quantity"),
    ],
)
def test_anything_else_gets_one_line_naming_what_works(text: str, unit: str, message: str) -> None:
    with pytest.raises(BadQuantity) as raised:
        parse_quantity(text, unit)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_thousands_need_groups_of_three_and_a_lone_comma_is_a_decimal_comma() -> None:
    assert parse_number("9,150") == 9150
    assert parse_number("9,15") == 9.15
    with pytest.raises(ValueError):
        parse_number("91,50,0")
