"""/use, /receive, /count, /moves, /undo, /confirm, /quote, /material and the roles, through the
shared command layer over fakes: the text a buyer reads, and what was booked."""

import pytest

from bot.commands import Caller, Renderer, UpdateRef, execute, parse
from bot.formatting import Reply
from core.models import Channel, Role
from core.services import Services
from tests.fakes import (
    FakeInventoryRepo,
    FakeOutbox,
    FakeUserRepo,
    FakeVendorRepo,
    make_services,
    quote,
    stock_item,
)

ADMIN = Caller(user_id=1, role=Role.ADMIN, chat_id=1, name="Ada", channel=Channel.TELEGRAM)
BUYER = Caller(user_id=2, role=Role.BUYER, chat_id=2, name="Bob", channel=Channel.TELEGRAM)
OTHER = Caller(user_id=5, role=Role.BUYER, chat_id=5, name="Carla", channel=Channel.TELEGRAM)
VIEWER = Caller(user_id=7, role=Role.VIEWER, chat_id=7, name="Vera", channel=Channel.TELEGRAM)


@pytest.fixture
def inventory() -> FakeInventoryRepo:
    return FakeInventoryRepo(
        [
            stock_item("copper", on_hand=420, daily_consumption=12, minimum=100, lead_time_days=21),
            stock_item("aluminium", on_hand=250, daily_consumption=10),
        ]
    )


@pytest.fixture
def services(inventory: FakeInventoryRepo) -> Services:
    return make_services(
        inventory=inventory,
        vendors=FakeVendorRepo([quote("Acme Metals", price=9300)]),
        outbox=FakeOutbox(),
        users=FakeUserRepo(),
        viewers=frozenset({7}),
    )


async def ask(
    services: Services, line: str, caller: Caller = BUYER, update: int | None = None
) -> Reply:
    name, args = parse(line)
    ref = UpdateRef(update) if update is not None else None
    return await execute(name, args, caller, services, Renderer(), "ProcureTestBot", ref)


async def test_use_says_what_was_recorded_and_what_it_changed_with_an_undo_button(
    services: Services,
) -> None:
    reply = await ask(services, "/use copper 5")
    assert reply.text.startswith("<b>Copper</b>: used 5 t. On hand 415 t, 35 days of cover.")
    assert [(b.label, b.command) for b in reply.choices] == [("↩️ Undo", "/undo 1")]
    assert "Undo works for 10 minutes" in reply.text


async def test_the_answer_says_when_days_of_cover_changed(services: Services) -> None:
    reply = await ask(services, "/use copper 13 t")
    assert "On hand 407 t, 34 days of cover (was 35)." in reply.text


@pytest.mark.parametrize(
    ("line", "recorded"),
    [
        ("/use copper 2,500 kg for line 3", "used 2.5 t (2,500 kg)"),
        ("/use Cu 500kg", "used 0.5 t (500kg)"),
        ("/use copper 1,200 lb", "used 0.54 t (1,200 lb)"),
        ("/receive copper 20 t po 4711 late truck", "received 20 t (PO 4711)"),
        ("/receive copper 20 po PO-2026-0001", "received 20 t (PO-2026-0001)"),
        ("/count copper 410", "counted 410 t, 10 t less than expected"),
        ("/count copper 420t", "counted 420 t, as expected"),
    ],
)
async def test_quantities_take_units_and_receipts_their_purchase_order(
    services: Services, line: str, recorded: str
) -> None:
    reply = await ask(services, line)
    assert f"<b>Copper</b>: {recorded}." in reply.text


async def test_the_purchase_order_and_the_note_are_stored_with_the_move(
    services: Services, inventory: FakeInventoryRepo
) -> None:
    await ask(services, "/receive copper 20 t po 4711 late truck")
    (move,) = inventory.moves
    assert (move.reference, move.note, move.user_name, move.chat_id) == (
        "PO 4711",
        "late truck",
        "Bob",
        2,
    )


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/use", "Which material? Usage: /use MATERIAL QTY [note], e.g. /use copper 5t;"),
        ("/use copper", "How much Copper? Usage: /use MATERIAL QTY [note]"),
        ("/use copper 5x", "'x' is not a unit I know: write the quantity as 5, 5t, 2.5 t"),
        ("/use coper 5", "Unknown material 'coper'. Did you mean copper?"),
        ("/use copper 5 kg.", "used 0.01 t"),
        ("/receive copper 5 po", "Which purchase order? Write po and its number"),
        ("/count copper 5mm", "'mm' is not a unit I know"),
        ("/use copper 0", "The quantity must be above 0, got 0"),
    ],
)
async def test_bad_quantities_and_materials_get_one_line_naming_what_works(
    services: Services, line: str, answer: str
) -> None:
    reply = await ask(services, line)
    assert answer in reply.text and not (reply.choices and "Undo" not in reply.choices[0].label)


async def test_a_typo_sized_use_asks_first_and_confirm_books_it_once(
    services: Services, inventory: FakeInventoryRepo
) -> None:
    asked = await ask(services, "/use copper 500")
    assert asked.text.startswith("<b>Copper</b>: use 500 t? That is more than the stock on hand")
    assert [b.command for b in asked.choices] == ["/confirm 1", "/discard 1"]
    assert inventory.moves == []
    booked = await ask(services, "/confirm 1", update=10)
    assert "used 500 t" in booked.text and len(inventory.moves) == 1
    again = await ask(services, "/confirm 1", update=11)  # a second tap: a new update
    assert again.text == "That has been done already." and len(inventory.moves) == 1


async def test_cancel_books_nothing(services: Services, inventory: FakeInventoryRepo) -> None:
    await ask(services, "/count copper 4100")
    assert (await ask(services, "/discard 1")).text == "Cancelled: nothing was booked."
    assert "cancelled" in (await ask(services, "/confirm 1")).text and inventory.moves == []


async def test_undo_answers_with_the_stock_as_it_was(services: Services) -> None:
    await ask(services, "/use copper 13")
    undone = await ask(services, "/undo 1")
    assert undone.text.startswith("Undone: move #1, <b>Copper</b> used 13 t. On hand 420 t")
    assert (await ask(services, "/undo 1")).text == "Move #1 was undone already (by #2)."
    assert (await ask(services, "/undo 1", OTHER)).text.startswith("Move #1 was undone already")


async def test_someone_else_may_not_undo_or_confirm_your_move(services: Services) -> None:
    await ask(services, "/use copper 5")
    assert (await ask(services, "/undo 1", OTHER)).text == "Only Bob or an admin may undo move #1."
    assert (await ask(services, "/undo 1", ADMIN)).text.startswith("Undone: move #1")


async def test_a_redelivered_update_books_nothing_and_gets_the_first_answer(
    services: Services, inventory: FakeInventoryRepo
) -> None:
    first = await ask(services, "/use copper 5", update=77)
    again = await ask(services, "/use copper 5", update=77)
    assert again == first and len(inventory.moves) == 1
    assert (await ask(services, "/use copper 5", update=78)).text != first.text


async def test_moves_lists_who_when_and_the_reference_newest_first(services: Services) -> None:
    await ask(services, "/receive copper 20 po 4711")
    await ask(services, "/use aluminium 3 for line 2", OTHER)
    await ask(services, "/use copper 1")
    await ask(services, "/undo 3")
    listing = (await ask(services, "/moves")).text
    lines = listing.splitlines()
    assert lines[0] == "<b>Last 4 stock moves</b>, newest first"
    assert "<b>Copper</b> undo of #3 (used 1 t) · Bob" in lines[1]
    assert lines[2].startswith("<s>#3 24 Nov 12:00 UTC · <b>Copper</b> used 1 t · Bob</s>")
    assert lines[2].endswith("(undone by #4)")
    assert "<b>Aluminium</b> used 3 t · Carla · “for line 2”" in lines[3]
    assert "<b>Copper</b> received 20 t · Bob · PO 4711" in lines[4]
    only = (await ask(services, "/moves copper 1")).text
    assert only.startswith("<b>Last 1 stock moves of Copper</b>") and "#4" in only
    assert "N is from 1 to 100" in (await ask(services, "/moves 500")).text


async def test_a_viewer_reads_but_is_told_why_they_cannot_write(services: Services) -> None:
    assert "No stock moves recorded yet" in (await ask(services, "/moves", VIEWER)).text
    refused = await ask(services, "/use copper 5", VIEWER)
    assert refused.text.startswith("Your role is viewer, which may only read: /use")
    help_text = (await ask(services, "/help", VIEWER)).text
    assert "/stock" in help_text and "/use" not in help_text and "/confirm" not in help_text


async def test_quote_records_a_quote_that_supersedes_the_vendors_last_one(
    services: Services,
) -> None:
    reply = await ask(
        services,
        "/quote copper “acme metals” 9,150 delivery 10d min 25t pack 5 valid 30d rating 4.5 "
        "breaks 50:9100, 100:9000",
    )
    assert reply.text.startswith(
        "Quote recorded: <b>Acme Metals</b>, Copper: 9,150 USD/t · delivery 10 days · "
        "rating 4.5 · min 25 t · pack 5 t · valid to 24 Dec 2026 · breaks 50+ 9,100, 100+ 9,000"
    )
    assert "It replaces their quote of 9,300 USD from 24 Nov, which stays in the history." in (
        reply.text
    )
    ranking = (await ask(services, "/vendors copper")).text
    assert "9,150 USD/t" in ranking and "9,300" not in ranking


async def test_a_quote_leaving_things_out_says_what_it_assumed(services: Services) -> None:
    reply = await ask(services, "/quote aluminium Ferro 2,410 EUR")
    assert "Ferro</b>, Aluminium: 2,410 EUR/t · delivery 20 days · rating 3" in reply.text
    assert "Not given, so assumed: delivery 20 days, the material's lead time; rating 3" in (
        reply.text
    )


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/quote", "Usage: /quote MATERIAL"),
        ('/quote copper "Acme" ', "What price did Acme quote?"),
        ('/quote copper "Acme" cheap', "'cheap' is not a price"),
        ('/quote copper "Acme 9000', "A quote mark is not closed."),
        ('/quote copper "Acme" 9000 soon', "'soon' is not part of a quote."),
        ('/quote copper "Acme" 9000 rating 7', "rating is a number from 0 to 5"),
        ('/quote copper "Acme" 9000 until 31.12.2026', "until takes a date like 2026-12-31"),
        ('/quote copper "Acme" 9000 until 2026-01-01', "The quote would be valid until 01 Jan"),
        ('/quote copper "Acme" 9000 breaks 100:9000,50:9100', "Price breaks must go from the"),
        ('/quote copper "Acme" 9000 min lots', "min: 'lots' is not a quantity"),
    ],
)
async def test_bad_quotes_get_one_line(services: Services, line: str, answer: str) -> None:
    assert answer in (await ask(services, line)).text


async def test_admins_add_and_change_materials(services: Services) -> None:
    added = await ask(services, '/material add zinc "Zinc SHG" t usd lead 14d min 20', ADMIN)
    assert added.text.startswith("Added <b>Zinc SHG</b> (zinc, t, prices in USD).")
    assert "Zinc SHG" in (await ask(services, "/stock zinc")).text
    changed = await ask(services, "/material set zinc daily 2.5 aliases zn, spelter", ADMIN)
    assert "<b>Zinc SHG</b> (zinc): lead time 14 days · minimum 20 t" in changed.text
    assert "configured daily use 2.5 t · aliases: zn, spelter" in changed.text
    assert "counted 30 t" in (await ask(services, "/count spelter 30")).text  # the first count
    assert "used 1 t" in (await ask(services, "/use spelter 1")).text
    assert (await ask(services, "/material set copper lead 30d", BUYER)).text == (
        "Only admins may use /material."
    )


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ('/material add copper "Copper" t USD', "copper exists already"),
        ('/material add Zinc! "Zinc" t USD', "'Zinc!' is not a material key"),
        ('/material add zinc "Zinc" t dollars', "'dollars' is not a currency"),
        ('/material add zinc "Aluminium" t USD', "'Aluminium' names Aluminium (aluminium) already"),
        ("/material set copper lead soon", "lead takes a number of days"),
        ("/material set copper colour red", "'colour' is not something I can set"),
        ("/material remove copper", "Usage: /material add KEY"),
    ],
)
async def test_bad_material_commands_get_one_line(
    services: Services, line: str, answer: str
) -> None:
    assert answer in (await ask(services, line, ADMIN)).text


async def test_admins_give_roles_with_users_and_invites(services: Services) -> None:
    added = await ask(services, "/users add 55 viewer", ADMIN)
    assert added.text == "User <code>55</code> has viewer access (reading only) now."
    viewer = Caller(user_id=55, role=await services.access.role_of(55), chat_id=55)
    assert viewer.role is Role.VIEWER
    changed = await ask(services, "/users role 55 approver", ADMIN)
    assert changed.text.startswith("User <code>55</code> is an approver now (was viewer)")
    assert await services.access.role_of(55) is Role.APPROVER
    invite = await ask(services, "/invite viewer", ADMIN)
    assert "opening it gives them viewer access (reading only)." in invite.text
    assert (
        "Viewers (VIEWER_USER_IDS): <code>7</code>" in (await ask(services, "/users", ADMIN)).text
    )


async def test_export_is_a_file_sent_only_in_a_private_chat(services: Services) -> None:
    in_group = Caller(user_id=2, role=Role.BUYER, chat_id=-5, is_group=True)
    assert "Send /export to me in a private chat" in (await ask(services, "/export", in_group)).text
    reply = await ask(services, "/export")
    assert reply.document is not None and reply.document[0] == "procurement-2026-11-24.xlsx"
    assert reply.document[1][:2] == b"PK"
