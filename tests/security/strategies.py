"""Hypothesis strategies for hostile header values (signatures, idempotency keys).

`signature_headers(valid)` mutates a correctly signed `Payment-Signature`
value the ways a hostile or broken client would: other scripts' digits, a huge
`t`, non-ASCII or uppercase hex, whitespace, repeated or reordered parts,
missing pieces, arbitrary text. None of them is the valid value itself.
"""

import string

from hypothesis import strategies as st

# Digits that str.isdigit() accepts but that are not ASCII: other scripts' decimal
# digits (int() takes them) and superscripts (int() refuses them).
UNICODE_DIGITS = st.characters(categories=["Nd", "No"]).filter(lambda c: c not in string.digits)
# What a header can carry over the wire (WSGI decodes header bytes as latin-1).
LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF).filter(lambda c: c != "\x7f")
WHITESPACE = st.sampled_from([" ", "\t", "  ", "\xa0"])


def _insert(value: str, position: int, extra: str) -> str:
    position %= len(value) + 1
    return value[:position] + extra + value[position:]


@st.composite
def signature_headers(draw: st.DrawFn, valid: str) -> str:
    """A value of the `Payment-Signature` header that is not exactly `valid`."""
    t_part, v1_part = valid.split(",")
    t, v1 = t_part.removeprefix("t="), v1_part.removeprefix("v1=")
    choice = draw(st.integers(0, 12))
    if choice == 0:  # a digit of t in another script
        i = draw(st.integers(0, len(t) - 1))
        header = f"t={t[:i]}{draw(UNICODE_DIGITS)}{t[i + 1 :]},{v1_part}"
    elif choice == 1:  # a t of many (up to thousands of) digits
        header = f"t={t}{draw(st.text(string.digits, min_size=3, max_size=6000))},{v1_part}"
    elif choice == 2:  # a character of v1 that is not lowercase hex
        i = draw(st.integers(0, len(v1) - 1))
        other = draw(
            st.one_of(LATIN1, st.characters()).filter(lambda c: c not in "0123456789abcdef")
        )
        header = f"{t_part},v1={v1[:i]}{other}{v1[i + 1 :]}"
    elif choice == 3:  # whitespace anywhere
        header = _insert(valid, draw(st.integers(0, len(valid))), draw(WHITESPACE))
    elif choice == 4:  # a part repeated
        part = draw(st.sampled_from([t_part, v1_part]))
        header = draw(
            st.sampled_from([f"{valid},{part}", f"{part},{valid}", f"{t_part},{part},{v1_part}"])
        )
    elif choice == 5:  # reordered, or a part missing
        header = draw(st.sampled_from([f"{v1_part},{t_part}", t_part, v1_part, "", ","]))
    elif choice == 6:  # v1 of another length
        header = draw(st.sampled_from([f"{valid}0", valid[:-1], f"{t_part},v1="]))
    elif choice == 7:  # uppercase hex, or another scheme's name
        header = draw(st.sampled_from([f"{t_part},v1={v1.upper()}", f"{t_part},v0={v1}"]))
    elif choice == 8:  # an empty or signed t
        header = draw(st.sampled_from([f"t=,{v1_part}", f"t=-{t},{v1_part}", f"t=+{t},{v1_part}"]))
    elif choice == 9:  # a trailing separator or newline
        header = valid + draw(st.sampled_from([",", ";", "\n", "\r\n", "\x00"]))
    elif choice == 10:  # arbitrary text over the header alphabet
        header = draw(st.text(LATIN1, max_size=300))
    elif choice == 11:  # arbitrary text at all
        header = draw(st.text(max_size=300))
    else:  # arbitrary text in the right shape
        header = f"t={draw(st.text(max_size=40))},v1={draw(st.text(max_size=80))}"
    return header if header != valid else valid + " "


def idempotency_keys() -> st.SearchStrategy[str]:
    """Any `Idempotency-Key` a client may send: empty, short, at and past 255, non-ASCII."""
    return st.one_of(
        st.text(LATIN1, max_size=300),
        st.text(LATIN1, min_size=250, max_size=260),
        st.text(string.ascii_letters, min_size=255, max_size=255),
        st.text(string.ascii_letters, min_size=256, max_size=4000),
    )
