"""The passthrough path: relative to the API base, and never able to leave it.

A host sends `/api/v1/passthrough/{connection_id}/{path}`; `{path}` is appended to the
integration's base URL as it came (percent-encoding kept: GitLab's `projects/group%2Fname` must
reach GitLab so). Before that, the path is decoded — repeatedly, so `%252e%252e` is caught too —
and refused when any decoding holds a `.` or `..` segment, an empty segment (`//`), a backslash,
an `@`, a scheme (`https:`), a `?` or `#` smuggled in encoded, or a control character. Deliberately
stricter than a provider needs: a path that is refused costs the host an encoding change, a path
that slips through could send the connection's token to another host.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from server.errors import InvalidRequest

# RFC 3986 pchar and "/", without "@" (userinfo) — what may appear in the path as sent.
_SENT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:/%]*")
# "https:/…", "mailto:" or a well-known scheme: a URL, not a path ("v1/messages:send" is a path).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(/|$)|^(?i:https?|file|ftp|data|javascript):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_DECODINGS = 4


def _refused(why: str) -> InvalidRequest:
    return InvalidRequest(f"The passthrough path {why}; it must stay under the integration's API base URL.")


def checked_path(raw: str) -> str:
    """`raw` (as sent, percent-encoded, without a leading slash) when it is safe, else InvalidRequest."""
    if not _SENT.fullmatch(raw):
        raise _refused("holds a character that is not allowed in a path (such as a backslash, @ or space)")
    if re.search(r"%(?![0-9A-Fa-f]{2})", raw):
        raise _refused("holds a malformed percent-encoding")
    decoded = raw
    for _ in range(_MAX_DECODINGS):
        _check_decoded(decoded)
        try:
            once_more = unquote(decoded, errors="strict")
        except UnicodeDecodeError:
            raise _refused("decodes to text that is not UTF-8") from None
        if once_more == decoded:
            return raw
        decoded = once_more
    raise _refused("is encoded too many times over")


def _check_decoded(path: str) -> None:
    if path.startswith("/") or "//" in path:
        raise _refused("holds an empty segment (//)")
    if "\\" in path or "@" in path:
        raise _refused("holds a backslash or an @")
    if "?" in path or "#" in path:
        raise _refused("holds an encoded ? or #")
    if _CONTROL.search(path):
        raise _refused("holds a control character")
    if _SCHEME.match(path):
        raise _refused("looks like an absolute URL")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise _refused("holds a . or .. segment")
