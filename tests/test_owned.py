"""--have: what the user owns, parsed at the edge."""
import pytest

from planner.catalog import load_catalog
from planner.errors import InputError
from planner.owned import parse_have

cat = load_catalog()


def test_counts_cards_platforms_and_machines():
    o = parse_have(["2xrtx-3090", "desktop-am5", "1 x RTX-3090", "mac-studio-m4-max-128gb"], cat)
    assert o.gpus == {"rtx-3090": 3, "mac-studio-m4-max-128gb": 1}
    assert o.platforms == {"desktop-am5": 1}
    assert o and not parse_have([], cat)


@pytest.mark.parametrize("bad", ["rtx-3091", "0xrtx-3090", "2x", "x", "3;rm", "9999999xrtx-3090"])
def test_bad_names_and_counts_are_one_line_errors(bad):
    with pytest.raises(InputError) as e:
        parse_have([bad], cat)
    assert "--have" in str(e.value) and "\n" not in str(e.value)
