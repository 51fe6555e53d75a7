import pytest

from core.errors import UnknownMaterial
from core.materials import MaterialCatalog
from tests.fakes import ALUMINIUM, COPPER, MATERIALS, STEEL

catalog = MaterialCatalog(MATERIALS)


@pytest.mark.parametrize(
    ("typed", "material"),
    [
        ("copper", COPPER),
        ("  COPPER ", COPPER),
        ("Cu", COPPER),
        ("aluminum", ALUMINIUM),
        ("Aluminium", ALUMINIUM),
        ("steel rebar", STEEL),
        ("Steel-Rebar", STEEL),
        ("rebar", STEEL),
    ],
)
def test_names_aliases_and_case_resolve_to_the_material(typed: str, material: object) -> None:
    assert catalog.resolve(typed) == material


def test_unknown_material_names_the_known_ones_and_the_closest_match() -> None:
    with pytest.raises(UnknownMaterial) as error:
        catalog.resolve("coper")
    message = str(error.value)
    assert "'coper'" in message
    assert "Did you mean copper?" in message
    assert "copper, aluminium, steel" in message


def test_gibberish_gets_the_list_without_a_wild_guess() -> None:
    with pytest.raises(UnknownMaterial) as error:
        catalog.resolve("xyzzy")
    assert error.value.suggestion is None
    assert "Known materials: copper, aluminium, steel." in str(error.value)


FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@pytest.mark.parametrize(
    "typed",
    ["Copper".translate(FULL_WIDTH), "CU".translate(FULL_WIDTH), "copper\u00a0"],
)
def test_compatibility_forms_of_a_name_resolve_too(typed: str) -> None:
    assert catalog.resolve(typed) is COPPER
