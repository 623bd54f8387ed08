"""DICOM wildcard matching (PS3.4 C.2.2.2.4: `*` any run, `?` one character) in linear time.

A regex built from the pattern backtracks: `***************Z` against a long value held the
interpreter for over a minute. This is the classic greedy two-pointer glob match, which
never revisits more than one `*` position: O(len(pattern) * len(value)) in the worst case
and usually linear, with no recursion and no regex.
"""

from __future__ import annotations


def wildcard_match(pattern: str, value: str, *, fold: bool = False) -> bool:
    """Whether the whole of `value` matches `pattern`; `fold` compares without case."""
    if fold:
        pattern, value = pattern.casefold(), value.casefold()
    # Runs of `*` are one `*`: keeps the backtracking below to one star at a time.
    p = 0
    v = 0
    star = -1  # position in pattern just after the latest `*`
    resume = 0  # position in value that latest `*` matched up to
    n_pattern, n_value = len(pattern), len(value)
    while v < n_value:
        if p < n_pattern and pattern[p] == "*":
            while p < n_pattern and pattern[p] == "*":
                p += 1
            star, resume = p, v
        elif p < n_pattern and (pattern[p] == "?" or pattern[p] == value[v]):
            p += 1
            v += 1
        elif star != -1:
            resume += 1  # let the latest `*` take one more character
            p, v = star, resume
        else:
            return False
    while p < n_pattern and pattern[p] == "*":
        p += 1
    return p == n_pattern
