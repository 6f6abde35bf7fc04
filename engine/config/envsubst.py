"""``${VAR}`` / ``${VAR:-default}`` substitution in configuration strings.

Secrets and per-site addresses stay out of the checked-in YAML: the same channel file runs in
test and production with different environments. ``$$`` writes a literal dollar sign; a lone
``$`` not followed by ``{`` or ``$`` is kept as it is, so passwords such as ``pa$s`` survive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SubstitutionError(ValueError):
    """The text names an unset variable without a default, or has a malformed ``${...}``."""


def substitute(text: str, environ: Mapping[str, str]) -> str:
    """Return ``text`` with every ``${VAR}`` and ``${VAR:-default}`` replaced from ``environ``.

    Like the shell, ``${VAR:-default}`` uses the default when VAR is unset *or empty*. All unset
    variables of one string are named in a single error, so one run shows every one to set.
    """
    out: list[str] = []
    missing: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt != "{":
            out.append(ch)
            i += 1
            continue
        end = text.find("}", i + 2)
        if end < 0:
            raise SubstitutionError(
                f"unterminated '${{' in {text!r}; write ${{NAME}} or ${{NAME:-default}}, or $$ for a literal '$'"
            )
        body = text[i + 2 : end]
        name, has_default, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            raise SubstitutionError(
                f"invalid variable reference '${{{body}}}'; expected ${{NAME}} or ${{NAME:-default}} "
                "where NAME is letters, digits and '_' (write $$ for a literal '$')"
            )
        value = environ.get(name)
        if has_default and not value:
            out.append(default)
        elif value is None:
            missing.append(name)
        else:
            out.append(value)
        i = end + 1
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        first = missing[0]
        verb = "is" if len(set(missing)) == 1 else "are"
        raise SubstitutionError(
            f"environment variable {names} {verb} not set; set it, or give a default with ${{{first}:-default}}"
        )
    return "".join(out)
