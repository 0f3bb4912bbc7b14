"""Redaction of everything that leaves the machine for an AI endpoint.

The rules are data (:data:`BUILTIN_RULES`): a name, a regular expression, the
kind of placeholder it produces and optionally which group to replace and a
named check.  A TOML or JSON file adds rules or turns built-in ones off::

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

A :class:`Redactor` is used for one request: the same value always gets the
same placeholder (``<secret-1>``, ``<host-2>``, ``<email-1>``, ``<user-1>``), so
the model can still tell two hosts apart.  Host and IP rules (kinds ``host``
and ``ip``) are skipped with ``keep_hosts``.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import re
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

HOST_KINDS = frozenset({"host", "ip"})

# Top-level domains that mark a dotted name as a host name rather than a Python
# module (``distributed.worker``) or a file (``model.py``: .py, .sh, .md, .rs
# and .so are deliberately absent).
_TLDS = (
    "com|net|org|edu|gov|mil|io|ai|dev|cloud|local|localdomain|internal|intranet|lan|corp|"
    "cluster|hpc|us|uk|de|fr|ca|au|jp|cn|ch|nl|se|fi|es|eu|ru|biz|tech|science|ac|br|dk|ie|kr|nz|pl|pt|tw"
)

#: The built-in rules, applied in this order (specific before generic).
BUILTIN_RULES: tuple[dict[str, Any], ...] = (
    {"name": "pem-block", "kind": "secret",
     "pattern": r"-----BEGIN [A-Z0-9 ]{0,40}-----[\s\S]*?(?:-----END [A-Z0-9 ]{0,40}-----|\Z)"},
    # scheme://user:password@host  and  scheme://token@host
    {"name": "url-credentials", "kind": "secret", "group": 1,
     "pattern": r"\b[a-zA-Z][a-zA-Z0-9+.-]*://([^\s/@'\"<>]+)@"},
    {"name": "authorization-header", "kind": "secret", "group": 3, "ignore_case": True,
     "pattern": r"\b(authorization|x-api-key|api-key|x-auth-token|cookie)(['\"]?\s*[:=]\s*['\"]?(?:bearer\s+|basic\s+|token\s+)?)([^\s'\",;<>]+)"},
    {"name": "bearer-token", "kind": "secret", "group": 1, "ignore_case": True,
     "pattern": r"\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})"},
    {"name": "openai-style-key", "kind": "secret", "pattern": r"\bsk-[A-Za-z0-9_-]{16,}"},
    {"name": "aws-access-key-id", "kind": "secret", "pattern": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"},
    {"name": "github-token", "kind": "secret", "pattern": r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})"},
    {"name": "gitlab-token", "kind": "secret", "pattern": r"\bglpat-[A-Za-z0-9_-]{20,}"},
    {"name": "slack-token", "kind": "secret", "pattern": r"\bxox[abposr]-[A-Za-z0-9-]{10,}"},
    {"name": "google-api-key", "kind": "secret", "pattern": r"\bAIza[0-9A-Za-z_-]{35}"},
    {"name": "huggingface-token", "kind": "secret", "pattern": r"\bhf_[A-Za-z0-9]{30,}"},
    {"name": "jwt", "kind": "secret",
     "pattern": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"},
    # token=…, password: …, "client_secret": "…"  (names that end in a secret word)
    {"name": "secret-parameter", "kind": "secret", "group": 3, "ignore_case": True,
     "pattern": r"(?<![\w-])((?:[\w-]*[_-])?(?:access[_-]?token|refresh[_-]?token|auth[_-]?token|token|"
                r"(?:api|access|secret|private|client|auth|account|storage)[_-]?key|apikey|secret|password|"
                r"passwd|passphrase|pwd|credentials?|session[_-]?id|cookie))(['\"]?\s*[=:]\s*['\"]?)"
                r"([^\s'\"&,;)}\]<>]+)"},
    # key=…, sig=…  (only with '=': "key: …" is common in Dask messages)
    {"name": "key-parameter", "kind": "secret", "group": 3, "ignore_case": True,
     "pattern": r"(?<![\w-])((?:[\w-]*[_-])?(?:key|sig|signature))(\s*=\s*['\"]?)([^\s'\"&,;)}\]<>]+)"},
    {"name": "email", "kind": "email", "pattern": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"},
    # /home/alice, /Users/alice, C:\Users\alice, /scratch/alice, /glade/work/alice, ~alice
    {"name": "home-path-user", "kind": "user", "group": 1,
     "pattern": r"(?:(?<![\w.])/(?:home|Users|u|people|export/home|scratch|pscratch/sd/[a-z]|glade/(?:u/home|work|scratch)|"
                r"gpfs/[\w.-]+/(?:home|scratch)|lustre/[\w.-]+/(?:home|scratch))/|[A-Za-z]:\\\\?Users\\\\?|(?<![\w/])~)"
                r"([A-Za-z_][\w.-]{0,63})(?=[/\\\s'\":,)\]]|$)"},
    {"name": "ipv4", "kind": "ip", "check": "ipv4_not_loopback",
     "pattern": r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)"},
    {"name": "ipv6", "kind": "ip", "check": "ipv6", "ignore_case": True,
     "pattern": r"(?<![\w:])(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5})?(?![\w:])"},
    # the host part of URLs and Dask addresses (tcp://node042:8786)
    {"name": "url-host", "kind": "host", "group": 1, "check": "not_loopback",
     "pattern": r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?:<[a-z]+-\d+>@)?([A-Za-z0-9_][A-Za-z0-9_.-]*)"},
    {"name": "host-parameter", "kind": "host", "group": 1, "ignore_case": True, "check": "not_loopback",
     "pattern": r"\b(?:host(?:name)?|node(?:name)?|server|addr(?:ess)?)\s*[=:]\s*['\"]?([A-Za-z0-9_][A-Za-z0-9_.-]*)"},
    {"name": "fqdn", "kind": "host", "ignore_case": True,
     "pattern": rf"\b(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})\b(?!\.\w|\()"},
    # compute nodes: nid001234, node042, cn-12, gpu017, login03
    {"name": "hpc-node", "kind": "host", "ignore_case": True,
     "pattern": r"\b(?:nid|node|cn|compute|gpu|login|c|n)-?\d{2,}(?:-[a-z0-9]+)*\b(?!\.\w|\()"},
    {"name": "high-entropy", "kind": "secret", "check": "high_entropy",
     "pattern": r"(?<![\w+/=-])[A-Za-z0-9+/_=-]{24,}(?![\w+/=-])"},
)

_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_]*-\d+>")
_USER_STOPLIST = frozenset({"root", "user", "users", "admin", "nobody", "runner", "test", "home", "shared", "public"})
_HOST_STOPLIST = frozenset({"localhost", "local"})


class RedactionRulesError(ValueError):
    """A rules file that cannot be read or has an invalid rule."""


def _shannon(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_WORDISH = re.compile(r"[A-Za-z]+\d*|\d+[A-Za-z]*|[0-9a-f]{6,}|[A-Z]?[a-z]+(?:[A-Z][a-z]+)*\d*")


def _high_entropy(s: str) -> bool:
    """Tokens, keys, signatures: long, varied, mixed character classes."""
    classes = sum(bool(re.search(rx, s)) for rx in (r"[a-z]", r"[A-Z]", r"\d"))
    if re.fullmatch(r"[0-9a-fA-F-]+", s):  # hashes, uuids: not secrets by themselves
        return False
    # Paths, Dask keys and identifiers: words, numbers ("L2052", "v2") and hex
    # hashes joined by - _ . /  -- random tokens interleave letters and digits.
    if all(_WORDISH.fullmatch(p) for p in re.split(r"[-_./]", s) if p):
        return False
    h = _shannon(s)
    if classes == 3 and h >= 3.8:
        return True
    return classes >= 2 and len(s) >= 40 and h >= 4.3


def _ipv4_not_loopback(s: str) -> bool:
    parts = s.split(".")
    if not all(p.isdigit() and int(p) <= 255 for p in parts):
        return False
    return not (parts[0] == "127" or s == "0.0.0.0")


def _ipv6(s: str) -> bool:
    low = s.lower()
    if low in ("::1", "::"):
        return False
    # "12:30:45" (a time) has no hex letters and no "::": not an address
    return "::" in low or bool(re.search(r"[a-f]", low)) or low.count(":") >= 5


def _not_loopback(s: str) -> bool:
    low = s.lower().rstrip(".")
    return low not in _HOST_STOPLIST and not low.startswith("127.") and low not in ("0.0.0.0",) and not _PLACEHOLDER.fullmatch(s)


CHECKS: dict[str, Callable[[str], bool]] = {
    "high_entropy": _high_entropy,
    "ipv4_not_loopback": _ipv4_not_loopback,
    "ipv6": _ipv6,
    "not_loopback": _not_loopback,
}


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str
    regex: re.Pattern[str]
    group: int = 0
    check: Callable[[str], bool] | None = None


def compile_rule(spec: Mapping[str, Any]) -> Rule:
    """One rule from its data form (see the module doc)."""
    name = str(spec.get("name") or "custom")
    kind = str(spec.get("kind") or "secret").strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,20}", kind):
        raise RedactionRulesError(f"rule {name!r}: kind must be a short lowercase word, not {kind!r}")
    if "literal" in spec and "pattern" not in spec:
        pattern = re.escape(str(spec["literal"]))
    elif "pattern" in spec:
        pattern = str(spec["pattern"])
    else:
        raise RedactionRulesError(f"rule {name!r}: needs 'pattern' or 'literal'")
    flags = re.IGNORECASE if spec.get("ignore_case") else 0
    try:
        regex = re.compile(pattern, flags)
    except re.error as exc:
        raise RedactionRulesError(f"rule {name!r}: bad pattern: {exc}") from None
    group = int(spec.get("group", 0) or 0)
    if group > regex.groups:
        raise RedactionRulesError(f"rule {name!r}: group {group} does not exist in the pattern")
    check_name = spec.get("check")
    if check_name is not None and check_name not in CHECKS:
        raise RedactionRulesError(f"rule {name!r}: unknown check {check_name!r} (known: {', '.join(CHECKS)})")
    return Rule(name, kind, regex, group, CHECKS[check_name] if check_name else None)


def load_rules_file(path: str | Path) -> tuple[list[dict[str, Any]], set[str]]:
    """(extra rules, names of built-in rules to disable) from a TOML or JSON file."""
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
    rules = doc.get("rules", doc.get("rule", []))
    disable = doc.get("disable", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise RedactionRulesError(f"{p}: 'rules' must be a list of tables")
    if not isinstance(disable, list):
        raise RedactionRulesError(f"{p}: 'disable' must be a list of rule names")
    known = {r["name"] for r in BUILTIN_RULES}
    unknown = [d for d in disable if d not in known]
    if unknown:
        raise RedactionRulesError(f"{p}: unknown built-in rule(s) to disable: {', '.join(map(str, unknown))}")
    return rules, {str(d) for d in disable}


def local_identity_rules() -> list[dict[str, Any]]:
    """This machine's user name and host name, wherever they appear."""
    out: list[dict[str, Any]] = []
    users: set[str] = set()
    for v in (os.environ.get("USER"), os.environ.get("LOGNAME")):
        if v:
            users.add(v)
    try:
        users.add(getpass.getuser())
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        pass
    for u in sorted(users):
        if len(u) >= 3 and u.lower() not in _USER_STOPLIST:
            out.append({"name": "local-user", "kind": "user", "pattern": rf"(?<![\w-]){re.escape(u)}(?![\w-])"})
    try:
        host = socket.gethostname()  # no network traffic: a system call
    except OSError:
        host = ""
    names = {host, host.split(".")[0]} if host else set()
    for h in sorted(names, key=len, reverse=True):
        if len(h) >= 4 and h.lower() not in _HOST_STOPLIST:
            out.append({"name": "local-host", "kind": "host", "ignore_case": True,
                        "pattern": rf"(?<![\w-]){re.escape(h)}(?![\w-])"})
    return out


class Redactor:
    """Replaces sensitive values with placeholders, consistently within one request."""

    def __init__(
        self,
        *,
        keep_hosts: bool = False,
        extra_rules: Iterable[Mapping[str, Any]] = (),
        disable: Iterable[str] = (),
        rules_file: str | Path | None = None,
        local_identity: bool = True,
    ) -> None:
        disabled = set(disable)
        extra = list(extra_rules)
        if rules_file is not None:
            file_rules, file_disable = load_rules_file(rules_file)
            extra += file_rules
            disabled |= file_disable
        specs: list[Mapping[str, Any]] = []
        # Custom rules first: they are the most specific to this site.
        specs += extra
        if local_identity:
            specs += local_identity_rules()
        specs += [r for r in BUILTIN_RULES if r["name"] not in disabled]
        rules = [compile_rule(s) for s in specs]
        self.keep_hosts = keep_hosts
        self.rules = [r for r in rules if not (keep_hosts and r.kind in HOST_KINDS)]
        self._by_value: dict[tuple[str, str], str] = {}
        self._counters: Counter[str] = Counter()
        #: Replacements made per rule name (for the preview and tests).
        self.hits: Counter[str] = Counter()

    def placeholder(self, kind: str, value: str) -> str:
        key_value = value.lower() if kind in ("host", "email", "user") else value
        ph = self._by_value.get((kind, key_value))
        if ph is None:
            self._counters[kind] += 1
            ph = self._by_value[(kind, key_value)] = f"<{kind}-{self._counters[kind]}>"
        return ph

    @property
    def mapping(self) -> dict[str, str]:
        """placeholder -> kind (never the secret itself, so it is safe to show)."""
        return {ph: kind for (kind, _), ph in self._by_value.items()}

    def redact(self, text: str) -> str:
        if not text:
            return text
        for rule in self.rules:
            text = rule.regex.sub(lambda m, r=rule: self._replace(r, m), text)
        return text

    def _replace(self, rule: Rule, m: re.Match[str]) -> str:
        g = rule.group
        value = m.group(g)
        if value is None or not value or _PLACEHOLDER.fullmatch(value):
            return m.group(0)
        if rule.check is not None and not rule.check(value):
            return m.group(0)
        self.hits[rule.name] += 1
        ph = self.placeholder(rule.kind, value)
        if g == 0:
            return ph
        whole = m.group(0)
        start, end = m.start(g) - m.start(0), m.end(g) - m.start(0)
        return whole[:start] + ph + whole[end:]

    def redact_obj(self, obj: Any) -> Any:
        """Every string in a JSON-like structure, dict keys included."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {self.redact(str(k)): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj
