"""Compiling redaction rules, and the rules a site or this machine adds.

A TOML or JSON file adds rules or turns built-in ones off::

    # rules.toml  (--redact-rules FILE or $SCALABLE_TUI_REDACT_RULES)
    disable = ["email"]            # names of built-in rules to turn off

    [[rules]]
    name = "project-codes"
    pattern = "PRJ-[0-9]{6}"
    kind = "secret"                # the placeholder: <secret-1>, <secret-2>, …
    ignore_case = false            # optional
    group = 0                      # optional: replace only this group

    [[rules]]
    name = "our-cluster"
    literal = "frontier"           # a fixed string instead of a pattern
    kind = "host"

Every field of a rule is checked (``name``, ``kind``, ``pattern`` or
``literal``, ``group`` a whole number >= 0, ``ignore_case`` true/false,
``check`` a known check name); a bad file is one :class:`RedactionRulesError`
line naming the file, the rule and the field.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from assistant.llm.redact_rules import BUILTIN_RULES, CHECKS, _HOST_STOPLIST, _USER_STOPLIST


class RedactionRulesError(ValueError):
    """A rules file that cannot be read or has an invalid rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str
    regex: re.Pattern[str]
    #: (group, kind) pairs: each group that matched is replaced by a placeholder of its kind.
    parts: tuple[tuple[int, str], ...] = ((0, "secret"),)
    check: Callable[[str], bool] | None = None


_RULE_FIELDS = frozenset({"name", "kind", "kinds", "pattern", "literal", "group", "check", "ignore_case"})


def compile_rule(spec: Mapping[str, Any], where: str = "") -> Rule:
    """One rule from its data form (see the module doc); every field is checked.

    ``where`` names the file and rule number in messages, so a bad rules file
    gives one line that says which field of which rule is wrong.
    """
    raw_name = spec.get("name", "custom")
    if not isinstance(raw_name, str) or not raw_name.strip():
        raise RedactionRulesError(f"{where}field 'name' must be a non-empty string, not {raw_name!r}")
    name = raw_name
    at = f"{where}({name!r}): " if where else f"rule {name!r}: "

    def bad(field_: str, why: str) -> RedactionRulesError:
        return RedactionRulesError(f"{at}field '{field_}' {why}")

    unknown = sorted(set(spec) - _RULE_FIELDS)
    if unknown:
        return_err = RedactionRulesError(
            f"{at}unknown field(s) {', '.join(map(repr, unknown))} (known: name, kind, pattern, literal, group, check, ignore_case)"
        )
        raise return_err
    kind_raw = spec.get("kind", "secret")
    if not isinstance(kind_raw, str):
        raise bad("kind", f"must be a string, not {kind_raw!r}")
    kind = kind_raw.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,20}", kind):
        raise bad("kind", f"must be a short lowercase word (letters, digits, _), not {kind_raw!r}")
    if "pattern" in spec and "literal" in spec:
        raise RedactionRulesError(f"{at}give 'pattern' or 'literal', not both")
    if "literal" in spec:
        lit = spec["literal"]
        if not isinstance(lit, str) or not lit:
            raise bad("literal", f"must be a non-empty string, not {lit!r}")
        pattern = re.escape(lit)
    elif "pattern" in spec:
        pattern = spec["pattern"]
        if not isinstance(pattern, str) or not pattern:
            raise bad("pattern", f"must be a non-empty string, not {pattern!r}")
    else:
        raise RedactionRulesError(f"{at}needs 'pattern' or 'literal'")
    ic = spec.get("ignore_case", False)
    if not isinstance(ic, bool):
        raise bad("ignore_case", f"must be true or false, not {ic!r}")
    try:
        regex = re.compile(pattern, re.IGNORECASE if ic else 0)
    except re.error as exc:
        raise bad("pattern", f"is not a valid regular expression: {exc}") from None
    if regex.match("") is not None and regex.groups == 0:
        raise bad("pattern", "matches the empty string")
    group = spec.get("group", 0)
    groups = group if isinstance(group, list) else [group]
    if not groups:
        raise bad("group", "must be a whole number >= 0 (or a list of them), not []")
    for g in groups:
        if isinstance(g, bool) or not isinstance(g, int) or g < 0:
            raise bad("group", f"must be a whole number >= 0, not {g!r}")
        if g > regex.groups:
            raise bad("group", f"is {g}, but the pattern has {regex.groups} group(s)")
    kinds = spec.get("kinds", [kind] * len(groups))
    if not isinstance(kinds, list) or len(kinds) != len(groups) or not all(isinstance(k, str) for k in kinds):
        raise bad("kinds", "must be a list of kinds, one per group")
    check_name = spec.get("check")
    if check_name is not None and (not isinstance(check_name, str) or check_name not in CHECKS):
        raise bad("check", f"is {check_name!r}; known checks: {', '.join(CHECKS)}")
    return Rule(name, kind, regex, tuple(zip(groups, kinds)), CHECKS[check_name] if check_name else None)


def load_rules_file(path: str | Path) -> tuple[list[dict[str, Any]], set[str]]:
    """(extra rules, names of built-in rules to disable) from a TOML or JSON file.

    Every rule is compiled here too, so a bad file is one clear error before
    anything is redacted or sent.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise RedactionRulesError(f"cannot read redaction rules {p}: {exc.strerror or exc}") from None
    doc: Any
    try:
        if p.suffix.lower() == ".json":
            doc = json.loads(raw)
        else:
            import tomllib

            doc = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RedactionRulesError(f"cannot parse redaction rules {p}: {exc}") from None
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, dict):
        raise RedactionRulesError(f"{p}: expected a table with 'rules' and/or 'disable'")
    unknown_top = sorted(set(doc) - {"rules", "rule", "disable"})
    if unknown_top:
        raise RedactionRulesError(f"{p}: unknown key(s) {', '.join(map(repr, unknown_top))} (known: rules, disable)")
    rules = doc.get("rules", doc.get("rule", []))
    disable = doc.get("disable", [])
    if not isinstance(rules, list):
        raise RedactionRulesError(f"{p}: 'rules' must be a list of tables")
    for i, r in enumerate(rules, 1):
        if not isinstance(r, dict):
            raise RedactionRulesError(f"{p}: rule {i} must be a table, not {r!r}")
        if isinstance(r.get("group"), list) or "kinds" in r:
            raise RedactionRulesError(f"{p}: rule {i} ({r.get('name', 'custom')!r}): field 'group' must be one whole number >= 0")
        compile_rule(r, f"{p}: rule {i} ")  # "FILE: rule 2 ('name'): field 'group' …"
    if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
        raise RedactionRulesError(f"{p}: 'disable' must be a list of rule names")
    known = {r["name"] for r in BUILTIN_RULES}
    unknown = [d for d in disable if d not in known]
    if unknown:
        raise RedactionRulesError(f"{p}: unknown built-in rule(s) to disable: {', '.join(map(str, unknown))}")
    return rules, set(disable)


def current_user_names() -> set[str]:
    """This account's names: $USER, $LOGNAME, getpass and the passwd entry."""
    users: set[str] = set()
    for v in (os.environ.get("USER"), os.environ.get("LOGNAME"), os.environ.get("USERNAME")):
        if v:
            users.add(v)
    try:
        users.add(getpass.getuser())
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        pass
    try:
        import pwd

        users.add(pwd.getpwuid(os.getuid()).pw_name)
    except Exception:  # noqa: BLE001 - not on Windows / no entry
        pass
    return {u for u in users if u}


def local_identity_rules() -> list[dict[str, Any]]:
    """This machine's user name and host name, wherever they appear."""
    out: list[dict[str, Any]] = []
    for u in sorted(current_user_names(), key=len, reverse=True):
        if len(u) >= 3 and u.lower() not in _USER_STOPLIST:
            out.append({"name": "local-user", "kind": "user", "ignore_case": True,
                        "pattern": rf"(?<![\w-]){re.escape(u)}(?![\w-])"})
    names: set[str] = set()
    try:
        host = socket.gethostname()  # no network traffic: a system call
    except OSError:
        host = ""
    try:
        fqdn = os.uname().nodename
    except AttributeError:
        fqdn = ""
    for h in (host, fqdn):
        if h:
            names |= {h, h.split(".")[0]}
    for h in sorted(names, key=len, reverse=True):
        if len(h) >= 3 and h.lower() not in _HOST_STOPLIST:
            out.append({"name": "local-host", "kind": "host", "ignore_case": True,
                        "pattern": rf"(?<![\w-]){re.escape(h)}(?![\w-])"})
    return out
