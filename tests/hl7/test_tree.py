"""`adapters.hl7.tree.parse_tree` builds the same tree as python-hl7 (as lists), and the same
raw field text, on the golden samples and on generated messages."""

from typing import Any

import hl7
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.hl7.fields import segments
from adapters.hl7.tree import parse_tree
from tests.hl7 import samples


def _lists(node: Any) -> Any:
    if isinstance(node, str):
        return node
    return [_lists(child) for child in node]


def _same(text: str) -> None:
    tree = parse_tree(text)
    assert tree is not None
    reference = hl7.parse(text)
    assert tree.segments == _lists(reference)
    assert tree.separators == reference.separators
    assert tree.esc == reference.esc
    for ours, theirs in zip(segments(tree), segments(reference), strict=True):
        for n in range(1, 25):
            assert ours.raw_text(n) == theirs.raw_text(n)
            assert ours.get(n) == theirs.get(n)
            assert ours.get(n, 2, 2, rep=2) == theirs.get(n, 2, 2, rep=2)
            assert ours.text(n) == theirs.text(n)


def test_golden_samples_parse_as_python_hl7_does() -> None:
    texts = [
        samples.adt(),
        samples.adt("A40", prior="MRN0009", allergies=()),
        samples.orm(note="see \\T\\ note"),
        samples.orm("CA", reason="patient declined"),
        samples.omi(),
        samples.siu(),
    ]
    for text in texts:
        _same(text)


_piece = st.text(alphabet="AB1 |^~&\\.", max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    msh=st.lists(_piece, max_size=8),
    body=st.lists(st.tuples(st.sampled_from(["PID", "PV1", "ORC", "OBR", "AL1"]), _piece)),
)
def test_generated_messages_parse_as_python_hl7_does(msh: list[str], body: list[tuple]) -> None:
    text = "MSH|^~\\&|" + "|".join(msh) + "".join(f"\r{name}|{rest}" for name, rest in body)
    _same(text)


def test_a_header_with_nothing_after_msh_2_is_left_to_python_hl7() -> None:
    assert parse_tree("MSH|^~\\&") is None
