"""Error texts as a bulk retry preview groups them.

One failure names a different task id, port, address or duration each time it happens; grouping
by the raw text would make one group per task. `error_key` masks those parts — uuids and hex
ids as `<id>`, e-mail addresses as `<email>`, ISO dates as `<time>`, standalone numbers as
`<n>` — and leaves everything else as written, so the key still reads as the error:

* only whole tokens are masked: digits inside a name belong to it (ldap3, sha256, v4563,
  DSID-0C0903E8, `data 52e`, utf-8, ISO-8859-1, python3.13), and an LDAP sub-code such as 52e
  (bad password) versus 775 (account locked) is exactly what tells two failures apart;
* a number keeps its unit (`after 10s` and `after 11s` are both `after <n>s`);
* nothing is cut unless the text is really long (over ERROR_KEY_CHARS), and then the key ends in
  "…", so a key never silently loses its closing brackets.

Python, not SQL: the same masks as Postgres regexes cost ~0.3 ms a task and pushed a preview of
10,000 tasks past the session's statement timeout; here they cost a few µs a text.
"""

from __future__ import annotations

import re

# A group key is at most this many characters (a whole exception message fits: a Slack webhook
# timeout is ~250); a longer one is cut and ends in "…".
ERROR_KEY_CHARS = 500
ELLIPSIS = "…"

# One pass, left to right; at each position the alternatives are tried in this order. The
# leading lookbehind is the cheap common condition (no mask starts inside a word), checked once
# a position: the masks then cost a few µs on a long message instead of ~60.
_MASKS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    + "|".join(
        (
            # uuids first: their hex parts would otherwise be taken for numbers or hex ids
            r"(?P<uuid>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})",
            # one bounced recipient per task must not make one group per task
            r"(?P<email>(?<![._+-])[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})",
            # memory addresses and bytes (0x7f3a1c2b9d50, 0x8b)
            r"(?P<hex0x>(?<!\w)0[xX][0-9a-fA-F]+(?!\w))",
            # hashes and tokens: 16+ hex characters
            r"(?P<hexlong>(?<!\w)[0-9a-fA-F]{16,}(?!\w))",
            # lowercase hex of 8+ mixing digits and letters (token_hex, short hashes, pod name
            # suffixes); not DSID-0C0903E8, whose upper-case hex names an error
            r"(?P<hexmix>(?<!\w)(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}(?!\w))",
            # an ISO date, with an optional time and zone: one <time>, not three numbers
            r"(?P<time>(?<!\w)[0-9]{4}-[0-9]{2}-[0-9]{2}"
            r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?(?!\w))",
            # a standalone number: not inside a word, not after "." (python3.13) or "word-"
            # (utf-8, ISO-8859-1); a dotted number (an IP, 5.1.1) is one; a unit may follow
            r"(?P<n>(?<![\w.])(?<![^\W_]-)[0-9]+(?:\.[0-9]+)*(?=(?:[mun]?s|min|[mhdbk]|[kKMG]i?[bB])?(?!\w)))",
        )
    )
    + ")"
)
_REPLACEMENT = {"uuid": "<id>", "email": "<email>", "hex0x": "<id>", "hexlong": "<id>", "hexmix": "<id>"}


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup or "n"
    return _REPLACEMENT.get(kind, f"<{kind}>")


def error_key(text: str, *, truncated: bool = False) -> str:
    """The group key of an error text: ids and numbers masked, whitespace runs as one space,
    at most ERROR_KEY_CHARS characters. `truncated`: `text` is only the start of a longer
    error (the key then ends in "…" whatever its length)."""
    key = " ".join(_MASKS.sub(_mask, text).split())
    if truncated or len(key) > ERROR_KEY_CHARS:
        return key[: ERROR_KEY_CHARS - len(ELLIPSIS)] + ELLIPSIS
    return key
