import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.privacy import CODE_MASK, mask_sensitive, take_one_time_code
from tests.support.card_text import KEPT, card_survives, messages_with_a_card


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("my card 4111 1111 1111 1111 got declined", "my card [card ending 1111] got declined"),
        ("card: 5500-0000-0000-0004 pls", "card: [card ending 0004] pls"),
        ("charged on 378282246310005", "charged on [card ending 0005]"),
        ("the code is 482913", f"the code is {CODE_MASK}"),
        ("OTP: 5521", f"OTP: {CODE_MASK}"),
        (
            "my verification code 093311 never worked",
            f"my verification code {CODE_MASK} never worked",
        ),
        ("cvv 123", f"cvv {CODE_MASK}"),
    ],
)
def test_card_numbers_and_codes_are_masked(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "where is order CC-482913",
        "track #482913 please",
        "order 4829137 is late",
        "I paid JMD 4500 and TT$ 300",
        "call me on 1 246 555 0123",
        "1234 5678 9012 3456 is not a valid card (Luhn)",
        "pin my location pls",
    ],
)
def test_order_numbers_amounts_and_invalid_numbers_are_kept(text: str) -> None:
    assert mask_sensitive(text) == text


# Shapes an audit found surviving the first masking: the whole run of digits failed Luhn, so
# the card inside it was never tried.
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111 1111 1111 1111 123", "[card ending 1111] 123"),
        ("card 4111 1111 1111 1111 12/25", "card [card ending 1111] 12/25"),
        ("5500.0000.0000.0004", "[card ending 0004]"),
        ("4111/1111/1111/1111", "[card ending 1111]"),
        ("4111  1111  1111  1111", "[card ending 1111]"),
        ("4111 - 1111 - 1111 - 1111", "[card ending 1111]"),
        ("card4111111111111111", "card[card ending 1111]"),
        ("card#4111111111111111 thanks", "card#[card ending 1111] thanks"),
        ("amex 3782 822463 10005 1234", "amex [card ending 0005] 1234"),
    ],
)
def test_cards_inside_longer_runs_and_glued_to_words_are_masked(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked


@given(messages_with_a_card())
@settings(max_examples=400, deadline=None)
def test_generated_cards_never_survive_masking(case: tuple[str, str]) -> None:
    digits, text = case
    masked = mask_sensitive(text)
    assert not card_survives(digits, masked), (text, masked)
    assert f"[card ending {digits[-4:]}]" in masked or "[card ending" in masked


@given(st.lists(KEPT, min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_order_numbers_phone_numbers_and_amounts_are_kept(parts: list[str]) -> None:
    text = " ".join(parts)
    assert mask_sensitive(text) == text


@pytest.mark.parametrize(
    ("text", "stored", "code"),
    [
        ("482913", "[code removed]", "482913"),
        ("my code is 482 913", "my code is [code removed]", "482913"),
        ("4821", "[code removed]", "4821"),
        ("12345678 thanks", "[code removed] thanks", "12345678"),
        # Not codes: too short, too long, part of a word or an order number, a phone, a card.
        ("123", "123", None),
        ("CC-55123", "CC-55123", None),
        ("+1 868 555 0123", "+1 868 555 0123", None),
        ("4111 1111 1111 1111", "[card ending 1111]", None),
        ("I didn't get it", "I didn't get it", None),
    ],
)
def test_a_code_asked_for_is_taken_out_of_the_text(
    text: str, stored: str, code: str | None
) -> None:
    assert take_one_time_code(text) == (stored, code)
