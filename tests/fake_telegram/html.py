"""Telegram's HTML parse mode: the text a user reads, or why Telegram refuses it."""

from __future__ import annotations

from html.parser import HTMLParser

# https://core.telegram.org/bots/api#html-style
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
    "tg-time",
}


class EntityError(ValueError):
    """Text Telegram refuses with "Bad Request: can't parse entities: ..."."""


class _Parser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._lines = source.splitlines(keepends=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        before = "".join(self._lines[: line - 1]) + (
            self._lines[line - 1][:column] if self._lines else ""
        )
        return len(before.encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise EntityError(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')
        if tag == "a" and not dict(attrs).get("href"):
            raise EntityError(
                f'Can\'t find "href" attribute of tag "a" at byte offset {self._offset()}'
            )
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise EntityError(f'Unexpected end tag "{tag}" at byte offset {self._offset()}')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(source: str) -> str:
    """The text after entity parsing; raises EntityError where Telegram would refuse it."""
    parser = _Parser(source)
    parser.feed(source)
    parser.close()
    if parser.stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"')
    return "".join(parser.text)


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
