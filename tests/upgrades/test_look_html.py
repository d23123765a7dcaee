"""Checks of rendered upgrade pages' HTML shared by the test_look_* modules: empty header
cells, amounts outside right-aligned cells, the text of an element by its id."""

import re
from html.parser import HTMLParser

NBSP = "\u00a0"
VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col"}


class _Cells(HTMLParser):
    """Collects every <th> with its text and every table cell whose text is an amount."""

    def __init__(self, currency: str):
        super().__init__(convert_charrefs=True)
        self.currency = currency
        self.stack: list[tuple[str, dict]] = []
        self.headers: list[tuple[dict, str]] = []
        self.amount_cells: list[tuple[str, dict, str]] = []
        self._th_text: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        self.stack.append((tag, dict(attrs)))
        if tag == "th":
            self._th_text.append([])

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, attrs = self.stack.pop()
            if open_tag == "th":
                self.headers.append((attrs, "".join(self._th_text.pop()).strip()))
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._th_text:
            self._th_text[-1].append(data)
        if f"{NBSP}{self.currency}" in data:
            cell = next(((t, a) for t, a in reversed(self.stack) if t in ("td", "th")), None)
            if cell is not None:
                self.amount_cells.append((cell[0], cell[1], data.strip()))


def cells(html: str, currency: str = "USD") -> _Cells:
    parser = _Cells(currency)
    parser.feed(html)
    parser.close()
    return parser


def empty_headers(html: str) -> list[dict]:
    return [attrs for attrs, text in cells(html).headers if not text]


def amounts_not_right_aligned(html: str, currency: str = "USD") -> list[str]:
    return [
        text
        for _tag, attrs, text in cells(html, currency).amount_cells
        if "num" not in (attrs.get("class") or "").split()
    ]


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id (tags removed, spaces collapsed)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())


# The checks themselves: each finds what it looks for (a check that cannot fail proves nothing).


def test_an_empty_header_cell_is_found():
    html = "<table><tr><th>Plan</th><th></th><th> <span></span> </th></tr></table>"
    assert len(empty_headers(html)) == 2
    assert empty_headers("<table><tr><th>Plan</th><th><span>Price</span></th></tr></table>") == []


def test_an_amount_in_a_cell_that_is_not_right_aligned_is_found():
    html = (
        f'<table><tr><td class="num">12,160.00{NBSP}USD</td>'
        f"<td><strong>5.00{NBSP}USD</strong></td><td>USD</td></tr></table>"
        f"<p>1.00{NBSP}USD</p>"
    )
    assert amounts_not_right_aligned(html) == [f"5.00{NBSP}USD"]


def test_text_of_an_element():
    assert text_of('<p id="x">Moved <b>3</b>\n of 4</p>', "x") == "Moved 3 of 4"
