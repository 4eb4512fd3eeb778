"""Hypothesis strategies: valid card numbers written as people write them, in surroundings."""

from __future__ import annotations

from hypothesis import strategies as st

from bot.privacy import luhn_valid

# Issuer prefixes and lengths of the common schemes (Visa, Mastercard, Amex, Discover, …).
_SCHEMES = (("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16),
            ("34", 15), ("37", 15), ("6011", 16), ("35", 16), ("62", 19))  # fmt: skip
SEPARATORS = st.sampled_from([" ", "-", ".", "/", "  ", " - ", "\t", "--", " / "])


def _check_digit(body: str) -> str:
    return next(d for d in "0123456789" if luhn_valid(body + d))


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A Luhn-valid card number: digits only."""
    prefix, length = draw(st.sampled_from(_SCHEMES))
    middle = draw(st.text("0123456789", min_size=length - len(prefix) - 1,
                          max_size=length - len(prefix) - 1))  # fmt: skip
    body = prefix + middle
    return body + _check_digit(body)


@st.composite
def written_cards(draw: st.DrawFn) -> tuple[str, str]:
    """(digits, as written): in groups of 4 (Amex 4-6-5), any separators, or none."""
    digits = draw(card_numbers())
    style = draw(st.sampled_from(["plain", "groups", "amex"]))
    if style == "plain":
        return digits, digits
    sizes = [4, 6, 5] if style == "amex" and len(digits) == 15 else [4] * 5
    parts, rest = [], digits
    for size in sizes:
        if rest:
            parts.append(rest[:size])
            rest = rest[size:]
    if rest:
        parts.append(rest)
    written = parts[0]
    for part in parts[1:]:
        written += draw(SEPARATORS) + part
    return digits, written


# What surrounds a card in a message; all of it must be kept.
KEPT = st.sampled_from([
    "my card", "was declined", "order CC-482913", "#482913", "order 4829137",
    "JMD 4500", "TT$ 300.50", "call 1 246 555 0123", "+1 (246) 555-0199", "thanks!",
    "paid 12,500", "on 2026-03-01",
])  # fmt: skip
# Written right after a card (its expiry or CVV), or a word glued before it.
AFTER = st.sampled_from(["", " 123", " 12/25", " - 0427", " exp 11/27", "/123"])
BEFORE = st.sampled_from(["", "card", "card#", "no:", "cc="])


@st.composite
def messages_with_a_card(draw: st.DrawFn) -> tuple[str, str]:
    """(card digits, message): a written card in surroundings people write."""
    digits, written = draw(written_cards())
    head = draw(st.lists(KEPT, max_size=3))
    tail = draw(st.lists(KEPT, max_size=3))
    card = draw(BEFORE) + written + draw(AFTER)
    return digits, " ".join([*head, card, *tail])


def card_survives(digits: str, text: str) -> bool:
    """The card's digits are still in `text`, whatever was written between them."""
    only_digits = "".join(ch for ch in text if ch.isdigit())
    return digits in only_digits
