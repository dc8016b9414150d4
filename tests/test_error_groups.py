"""How a bulk retry preview groups errors (tasktui.core.error_groups): real messages from
authentik's failures keep their names and their closing brackets, and messages that differ only
in numbers and ids still make one group."""

from __future__ import annotations

import pytest

from tasktui.core.error_groups import ERROR_KEY_CHARS, error_key

LDAP_BIND = "LDAPException: 80090308: LdapErr: DSID-0C0903E8, comment: AcceptSecurityContext error, data 52e, v4563"
DOCKER_DOWN = (
    "authentik.outposts.controllers.base.ControllerException: Failed to connect to Docker: Error while fetching"
    " server API version: ('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
)


@pytest.mark.parametrize(
    ("message", "key"),
    [
        # Digits inside names (DSID-…, 52e, v4563) are the error's identity; only the standalone
        # number is masked. The trial's key read "DSID-<n>C0<n>E … data <n>e, v4<n".
        (
            LDAP_BIND,
            "LDAPException: <n>: LdapErr: DSID-0C0903E8, comment: AcceptSecurityContext error, data 52e, v4563",
        ),
        ("FileNotFoundError(2, 'No such file or directory')", "FileNotFoundError(<n>, 'No such file or directory')"),
        # Over 200 characters once masked: it used to lose its closing brackets.
        (
            DOCKER_DOWN,
            "authentik.outposts.controllers.base.ControllerException: Failed to connect to Docker: Error while"
            " fetching server API version: ('Connection aborted.', FileNotFoundError(<n>, 'No such file or"
            " directory'))",
        ),
        (
            "request 3fa85f64-5717-4562-b3fc-2c963f66afa6 timed out after 10s",
            "request <id> timed out after <n>s",
        ),
        (
            "HTTPSConnectionPool(host='hooks.slack.com', port=443): Max retries exceeded with url: /services/T0/B0/X"
            " (Caused by ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at 0x7f3a1c2b9d50>,"
            " 'Connection to hooks.slack.com timed out. (connect timeout=4)'))",
            "HTTPSConnectionPool(host='hooks.slack.com', port=<n>): Max retries exceeded with url: /services/T0/B0/X"
            " (Caused by ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at <id>>,"
            " 'Connection to hooks.slack.com timed out. (connect timeout=<n>)'))",
        ),
        ("connection to 10.0.0.12:5432 refused", "connection to <n>:<n> refused"),
        ("[Errno 111] Connection refused", "[Errno <n>] Connection refused"),
        (
            "'utf-8' codec can't decode byte 0x8b in position 1: invalid start byte",
            "'utf-8' codec can't decode byte <id> in position <n>: invalid start byte",
        ),
        ("python3.13 sha256 ldap3 ISO-8859-1 x509 T0/B0", "python3.13 sha256 ldap3 ISO-8859-1 x509 T0/B0"),
        ("token 9f86d081884c7d659a2feaa0c55ad015 expired", "token <id> expired"),
        ("pod authentik-worker-7f9c8d6b5-x2x4z evicted", "pod authentik-worker-<id>-x2x4z evicted"),
        (
            "{'bob@example.com': (550, b'5.1.1 <bob@example.com>: Recipient address rejected')}",
            "{'<email>': (<n>, b'<n> <<email>>: Recipient address rejected')}",
        ),
        ("certificate expired on 2025-01-15T10:11:12.5+00:00", "certificate expired on <time>"),
        (
            "duplicate key violates unique constraint users_1a2b3c4d_uniq",
            "duplicate key violates unique constraint users_1a2b3c4d_uniq",
        ),
        ("  several\n\tlines   of  text ", "several lines of text"),
        ("", ""),
    ],
)
def test_only_standalone_numbers_and_ids_are_masked(message: str, key: str) -> None:
    assert error_key(message) == key


def test_messages_differing_only_in_numbers_and_ids_group_together() -> None:
    def webhook(task: str, port: int, seconds: int) -> str:
        return f"request {task} to hooks.example.com:{port} timed out after {seconds}s (attempt {seconds % 3})"

    keys = {
        error_key(webhook("3fa85f64-5717-4562-b3fc-2c963f66afa6", 443, 10)),
        error_key(webhook("0b6f1a4e-27b4-4e70-9a39-3d2a0d7b0e11", 8443, 11)),
        error_key(webhook("9c1d2e3f-0000-4abc-8def-123456789abc", 443, 30)),
    }
    assert keys == {"request <id> to hooks.example.com:<n> timed out after <n>s (attempt <n>)"}
    assert error_key("FileNotFoundError(2, 'x')") == error_key("FileNotFoundError(13, 'x')")


def test_codes_that_name_the_failure_keep_groups_apart() -> None:
    """52e is a wrong password, 775 a locked account: two groups, not one."""
    locked = LDAP_BIND.replace("data 52e", "data 775")
    assert error_key(LDAP_BIND) != error_key(locked)
    assert error_key(LDAP_BIND.replace("DSID-0C0903E8", "DSID-0C09044E")) != error_key(LDAP_BIND)


def test_only_a_really_long_message_is_cut_and_then_says_so() -> None:
    fits = "ValueError: " + "x" * (ERROR_KEY_CHARS - 14) + "')"
    assert len(fits) == ERROR_KEY_CHARS and error_key(fits) == fits
    long = "ValueError: " + "word " * 200 + "(end)"
    key = error_key(long)
    assert len(key) == ERROR_KEY_CHARS and key.endswith("…") and key.startswith("ValueError: word word")
    # The database sent only the start of the text: the key says it goes on, however short.
    assert error_key("KeyError: 'dn'", truncated=True) == "KeyError: 'dn'…"
