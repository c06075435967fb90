"""The header and tables as a real browser lays them out: QA's menu on one line at 1280 px, a compact header at
820 px, identifiers never broken at their hyphens."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

#: the words of every line box of each identifier in a table (a batch number broken at a hyphen has two)
LINES_OF_IDENTIFIERS = """() => Array.from(document.querySelectorAll('.ident')).map(element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  const tops = new Set(Array.from(range.getClientRects()).map(box => Math.round(box.top)));
  return [element.textContent.trim(), tops.size];
})"""


def _layout(page) -> dict:
    return page.evaluate(
        """() => {
          const links = Array.from(document.querySelectorAll('.nav a')).map(link => link.getBoundingClientRect());
          return {
            header: document.querySelector('.site-header').getBoundingClientRect().height,
            nav: document.querySelector('.nav').getBoundingClientRect().height,
            linkHeight: Math.max(...links.map(box => box.height)),
            linkTops: Array.from(new Set(links.map(box => Math.round(box.top)))),
            links: links.length,
          };
        }"""
    )


@pytest.mark.usefixtures("started_batch")
def test_qa_menu_is_one_line_at_1280_and_the_header_compact_at_820(page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "q.okafor")
    page.goto("/batches")
    wide = _layout(page)
    assert wide["links"] >= 10, "QA sees the whole menu"
    assert len(wide["linkTops"]) == 1 and wide["nav"] <= wide["linkHeight"] + 1, wide
    assert wide["header"] <= 2 * wide["linkHeight"] + 20, "brand and account above the menu, nothing more"
    page.set_viewport_size({"width": 820, "height": 1180})
    narrow = _layout(page)
    assert narrow["header"] <= 3 * narrow["linkHeight"] + 20, narrow
    assert page.evaluate("document.documentElement.scrollWidth") <= 820, "the header never widens the page"


@pytest.mark.parametrize("width", [1280, 820, 600])
@pytest.mark.usefixtures("started_batch")
def test_identifiers_in_tables_do_not_break_at_their_hyphens(page, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "q.okafor")
    page.goto("/batches")
    identifiers = dict(page.evaluate(LINES_OF_IDENTIFIERS))
    batch_numbers = [text for text in identifiers if text.startswith("CART-")]
    assert batch_numbers and "HLX301-DE01-0001" in " ".join(identifiers), identifiers
    assert {text: lines for text, lines in identifiers.items() if lines != 1} == {}
