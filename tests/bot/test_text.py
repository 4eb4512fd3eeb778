from bot.text import clean_customer_text


def test_control_characters_are_removed_but_lines_kept() -> None:
    assert clean_customer_text("  where\x00 is\x07 my\r\norder\x1b  ") == "where is my\norder"


def test_emoji_and_other_scripts_are_kept() -> None:
    text = "Mi order 🙏🏾 नमस्ते 你好 مرحبا 👨‍👩‍👧"
    assert clean_customer_text(text) == text
