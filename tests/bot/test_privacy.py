import pytest

from bot.privacy import CODE_MASK, mask_sensitive


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
