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

Every field of a rule is checked (``name``, ``kind``, ``pattern`` or
``literal``, ``group`` a whole number >= 0, ``ignore_case`` true/false,
``check`` a known check name); a bad file is one :class:`RedactionRulesError`
line naming the file, the rule and the field.

A :class:`Redactor` is used for one request: the same value always gets the
same placeholder (``<secret-1>``, ``<host-2>``, ``<email-1>``, ``<user-1>``), so
the model can still tell two hosts apart.  Host and IP rules (kinds ``host``
and ``ip``) are skipped with ``keep_hosts``.

Order matters, and the payload keeps it: terminal escapes and invisible
characters are removed first (a colour code inside a token hides it), then the
FULL text is redacted (a cut secret no longer matches its rule), and only then
is it normalised or cut.  :meth:`Redactor.sweep` finally replaces every value
learned anywhere in the payload wherever else it appears.
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

from assistant.textsafe import printable

HOST_KINDS = frozenset({"host", "ip"})
#: Ends text that was cut at a fixed length before it could be redacted (see payload._drop_partial_token).
CUT_MARK = "[…]"

# Top-level domains that mark a dotted name as a host name rather than a Python
# module (``distributed.worker``) or a file (``model.py``: .py, .sh, .md, .rs
# and .so are deliberately absent).
_TLDS = (
    "com|net|org|edu|gov|mil|io|ai|dev|cloud|local|localdomain|internal|intranet|lan|corp|"
    "cluster|hpc|us|uk|de|fr|ca|au|jp|cn|ch|nl|se|fi|es|eu|ru|biz|tech|science|ac|br|dk|ie|kr|nz|pl|pt|tw"
)

# A value after ``name=`` / ``name: ``: the whole quoted string (spaces, commas
# and all; ``b'…'`` bytes reprs too), else everything up to white space.  Three
# alternative groups: the first that matched is replaced.  Bounded repeats keep
# every rule linear on hostile input.
_VALUE = r"""(?:[bBrRuU]{0,2}\\{0,3}'([^'\n]{1,512}?)\\{0,3}'|[bBrRuU]{0,2}\\{0,3}"([^"\n]{1,512}?)\\{0,3}"|((?:[^\s'"<>&;,]|[&;,](?![ \t]?[\w.-]{1,40}=)){1,512}))"""
_SECRET_WORDS = (
    r"(?:access[_-]?token|refresh[_-]?token|auth[_-]?token|id[_-]?token|token|"
    r"(?:api|access|secret|private|client|auth|account|storage|master|encryption|signing)[_-]?key|apikey|secret|"
    r"password|passwd|passphrase|pass|pwd|credentials?|session[_-]?id|cookie|sas)"
)
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,8}"

#: The built-in rules, applied in this order (specific before generic).  ``group``
#: is one group or a list (each matched one is replaced); ``kinds`` optionally
#: gives a kind per listed group.
BUILTIN_RULES: tuple[dict[str, Any], ...] = (
    {"name": "pem-block", "kind": "secret",
     "pattern": r"-----BEGIN [A-Z0-9 ]{0,40}-----[\s\S]*?(?:-----END [A-Z0-9 ]{0,40}-----|\Z)"},
    # scheme://user:password@host  and  scheme://token@host
    {"name": "url-credentials", "kind": "secret", "group": 1,
     "pattern": r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}://([^\s/@'\"<>]{1,512})@"},
    {"name": "authorization-header", "kind": "secret", "group": [1, 2, 3], "ignore_case": True,
     "pattern": r"\b(?:proxy-authorization|authorization|x-api-key|api-key|x-auth-token|x-access-token|private-token|cookie|set-cookie)"
                r"\\{0,3}['\"]?[ \t]{0,8}[:=][ \t]{0,8}(?:(?:bearer|basic|token|digest)[ \t]{1,8})?" + _VALUE},
    {"name": "bearer-token", "kind": "secret", "group": 1, "ignore_case": True,
     "pattern": r"\b(?:bearer|basic)[ \t]{1,8}([A-Za-z0-9._~+/=-]{8,512})"},
    {"name": "openai-style-key", "kind": "secret", "pattern": r"\bsk-[A-Za-z0-9_-]{16,512}"},
    {"name": "stripe-style-key", "kind": "secret", "pattern": r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,512}"},
    {"name": "aws-access-key-id", "kind": "secret", "pattern": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"},
    {"name": "github-token", "kind": "secret", "pattern": r"\b(?:gh[pousr]_[A-Za-z0-9]{30,512}|github_pat_[A-Za-z0-9_]{20,512})"},
    {"name": "gitlab-token", "kind": "secret", "pattern": r"\bgl(?:pat|dt|rt|cbt|ptt|ft|imt|agent|oas)-[A-Za-z0-9_-]{20,512}"},
    {"name": "slack-token", "kind": "secret", "pattern": r"\bxox[abposre]-[A-Za-z0-9-]{10,512}"},
    {"name": "slack-webhook", "kind": "secret", "pattern": r"\bhooks\.slack\.com/services/[A-Za-z0-9/_-]{8,256}"},
    {"name": "google-api-key", "kind": "secret", "pattern": r"\bAIza[0-9A-Za-z_-]{35}"},
    {"name": "google-oauth", "kind": "secret", "pattern": r"\bya29\.[0-9A-Za-z_-]{20,512}"},
    {"name": "huggingface-token", "kind": "secret", "pattern": r"\bhf_[A-Za-z0-9]{30,512}"},
    {"name": "sendgrid-key", "kind": "secret", "pattern": r"\bSG\.[\w-]{16,64}\.[\w-]{16,128}"},
    {"name": "age-secret-key", "kind": "secret", "pattern": r"\bAGE-SECRET-KEY-1[0-9A-Z]{20,128}"},
    {"name": "vault-token", "kind": "secret", "pattern": r"\bhv[sb]\.[A-Za-z0-9_-]{20,512}"},
    {"name": "telegram-bot-token", "kind": "secret", "pattern": r"\b\d{8,10}:AA[A-Za-z0-9_-]{30,40}\b"},
    {"name": "jwt", "kind": "secret",
     "pattern": r"\beyJ[A-Za-z0-9_-]{5,4096}\.eyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,4096}"},
    # vendor_prefix_RANDOM tokens (npm_, dckr_pat_, pypi-, dop_v1_, shpat_, dapi…)
    {"name": "prefixed-token", "kind": "secret", "check": "token_tail",
     "pattern": r"(?<![\w-])(?:[a-z]{2,10}[_-](?:[a-z0-9]{2,10}[_-])?|dapi)([A-Za-z0-9]{20,512})(?![\w-])", "group": 0},
    # command lines: --token X, --password=X, --passphrase X, curl -u user:pass, sshpass -p X, mysql -pX
    {"name": "cli-secret-option", "kind": "secret", "group": [1, 2, 3], "ignore_case": True,
     "pattern": r"(?<![\w-])--?[\w-]{0,30}?(?:token|passphrase|password|passwd|secret|api-?key|apikey|access-key|pass|pwd|auth|credentials?)"
                r"(?:=|[ \t]{1,8})" + _VALUE},
    {"name": "cli-user-password", "kind": "secret", "group": [1, 2, 3], "check": "has_colon",
     "pattern": r"(?<![\w-])(?:-u|--user|--proxy-user)(?:=|[ \t]{1,8})" + _VALUE},
    {"name": "cli-short-password", "kind": "secret", "group": [1, 2, 3], "check": "not_path_or_number",
     "pattern": r"(?<![\w-])-p[ \t]{1,8}" + _VALUE},
    # argv lists: ['sshpass', '-p', 'X'], ["--password", "X"]
    {"name": "argv-secret-option", "kind": "secret", "group": 3, "ignore_case": True, "check": "not_path_or_number",
     "pattern": r"(['\"])(?:-p|-u|--?[\w-]{0,30}?(?:token|passphrase|password|passwd|secret|api-?key|apikey|pass|pwd|auth|credentials?|user))\1"
                r",[ \t]{0,8}[bBuU]?(['\"])([^'\"\n]{1,512})\2"},
    {"name": "mysql-attached-password", "kind": "secret", "group": [1, 2, 3], "ignore_case": True,
     "pattern": r"\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n]{0,200}?[ \t]-p(?=[^\s-])" + _VALUE},
    # token=…, password: …, "client_secret": "…", export PGPASSWORD='…', KEY = '…'
    {"name": "secret-parameter", "kind": "secret", "group": [1, 2, 3], "ignore_case": True, "check": "not_small_number",
     "pattern": r"(?<![\w-])[\w-]{0,40}?" + _SECRET_WORDS + r"\\{0,3}['\"]?[ \t]{0,8}(?:=>|[=:])[ \t]{0,8}" + _VALUE},
    # "password Tr0ub4dor&3" (no = or :): only values that look like secrets
    {"name": "secret-word-value", "kind": "secret", "group": [1, 2, 3], "ignore_case": True, "check": "secretish",
     "pattern": r"(?<![\w-])(?:token|password|passwd|passphrase|secret|api[_-]?key|apikey)[ \t]{1,8}(?:is[ \t]{1,8})?" + _VALUE},
    # key=…, sig=…  (only with '=': "key: …" is common in Dask messages)
    {"name": "key-parameter", "kind": "secret", "group": [1, 2, 3], "ignore_case": True,
     "pattern": r"(?<![\w-])(?:[\w-]{0,40}[_-])?(?:key|sig|signature)[ \t]{0,8}=[ \t]{0,8}" + _VALUE},
    {"name": "email", "kind": "email",
     "pattern": r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"},
    # alice@node042, ssh bob@frontier: a user name and a host
    {"name": "user-at-host", "kind": "user", "group": [1, 2], "kinds": ["user", "host"], "check": "not_loopback",
     "pattern": r"(?<![\w.@%+-])([A-Za-z_][\w.-]{0,31})@(" + _HOST + r")(?![\w@-])"},
    # /home/alice, /Users/alice, C:\Users\alice, /scratch/alice, /glade/work/alice, ~alice
    {"name": "home-path-user", "kind": "user", "group": 1,
     "pattern": r"(?:(?<![\w.])/(?:home|Users|u|people|export/home|scratch|pscratch/sd/[a-z]|glade/(?:u/home|work|scratch)|"
                r"gpfs/[\w.-]{1,64}/(?:home|scratch)|lustre/[\w.-]{1,64}/(?:home|scratch)|data/users|work/users)/|[A-Za-z]:\\\\?Users\\\\?|(?<![\w/])~)"
                r"([A-Za-z_][\w.-]{0,63})(?=[/\\\s'\":,)\]]|$)"},
    # user=alice, for user "alice", owner: alice
    {"name": "user-parameter", "kind": "user", "group": [1, 2, 3], "ignore_case": True, "check": "user_name",
     "pattern": r"(?<![\w-])(?:(?:user(?:name)?|login|owner|account)[ \t]{0,8}[=:][ \t]{0,8}|(?:as|for|by)[ \t]{1,8}user[ \t]{1,8}|user[ \t]{1,8}(?=['\"]))" + _VALUE},
    # uid=1000(alice) gid=…  (the output of id)
    {"name": "uid-user", "kind": "user", "group": 1, "check": "user_name",
     "pattern": r"\buid=\d{1,10}\(([^)\s]{1,32})\)"},
    {"name": "ipv4", "kind": "ip", "check": "ipv4_not_loopback",
     "pattern": r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]{0,1}\d)"},
    {"name": "ipv6", "kind": "ip", "check": "ipv6", "ignore_case": True,
     "pattern": r"(?<![\w:])(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5})?(?![\w:])"},
    # the host part of URLs and Dask addresses (tcp://node042:8786)
    {"name": "url-host", "kind": "host", "group": 1, "check": "not_loopback",
     "pattern": r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}://(?:<[a-z]+-\d+>@)?([A-Za-z0-9_][A-Za-z0-9_.-]{0,253})"},
    {"name": "host-parameter", "kind": "host", "group": 1, "ignore_case": True, "check": "not_loopback",
     "pattern": r"\b(?:host(?:name)?|node(?:name)?|server|addr(?:ess)?|machine|nodelist)[ \t]{0,8}[=:][ \t]{0,8}['\"]?([A-Za-z0-9_][A-Za-z0-9_.-]{0,253})"},
    # "on host frontier08", "resolve host db-1.internal": names with a digit, dot or hyphen
    {"name": "host-word", "kind": "host", "group": 1, "ignore_case": True, "check": "hostish",
     "pattern": r"\b(?:host|hostname|server|node|machine|resolve|connect(?:ing)? to|ssh)[ \t]{1,8}['\"]?(" + _HOST + r")(?![\w-])"},
    {"name": "fqdn", "kind": "host", "ignore_case": True,
     "pattern": rf"\b(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.){{1,10}}(?:{_TLDS})\b(?!\.\w|\()"},
    # any dotted name whose labels carry a digit or a hyphen (gpu-box17.lab, db-3.prod.acme)
    {"name": "dotted-host", "kind": "host", "ignore_case": True, "check": "dotted_host",
     "pattern": r"(?<![\w.@/\\-])[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?){0,8}\.[a-z][a-z0-9-]{1,23}(?![\w-]|\.\w|\()"},
    # compute nodes: nid001234, node042, cn-12, gpu017, login03, frontier08234
    {"name": "hpc-node", "kind": "host", "ignore_case": True,
     "pattern": r"\b(?:nid|node|cn|compute|gpu|login|c|n)-?\d{2,}(?:-[a-z0-9]{1,20}){0,5}\b(?!\.\w|\()"},
    {"name": "numbered-host", "kind": "host", "ignore_case": True, "check": "numbered_host",
     "pattern": r"\b[a-z]{3,16}\d{3,8}\b(?!\.\w|\()"},
    {"name": "high-entropy", "kind": "secret", "check": "high_entropy",
     "pattern": r"(?<![\w+/=-])[A-Za-z0-9+/_=-]{20,}+(?![\w+/=-])"},
)

_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_]*-\d+>")
_HAS_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_]*-\d+>")
_USER_STOPLIST = frozenset({
    "root", "user", "users", "admin", "nobody", "runner", "test", "home", "shared", "public", "none", "null",
    "true", "false", "default", "unknown", "the", "a", "an", "is", "not", "and", "or", "of", "in", "on", "to",
    "code", "id", "name", "function", "warning", "error", "defined", "data", "process", "space", "time",
})
_HOST_STOPLIST = frozenset({"localhost", "local", "localhost.localdomain"})
#: File name endings that make ``name.ext`` a file, not a host.
_FILE_EXTS = frozenset(
    "py pyc pyx pyi so sh bash zsh txt json yaml yml csv tsv nc nc4 h5 hdf5 zarr log md rst toml cfg ini conf out err "
    "dat tar gz tgz bz2 xz zip npy npz pkl pickle parquet feather xml html htm c h cc cpp hpp f f90 f77 r jl js ts "
    "lock png jpg jpeg svg pdf sql db sqlite rec jsonl ipynb whl egg exe dll dylib a o mod pem crt key pub gdx gms".split()
)
_NOT_HOST_WORDS = re.compile(
    r"(?:sha|md|base|float|int|uint|utf|ucs|complex|py|python|cp|win|x|lib|abi|arm|avx|bf|fp|amd|iso|latin|rfc|"
    r"version|step|epoch|year|line|item|row|col|column|iter|task|chunk|part|batch|worker|thread|proc|job|array|"
    r"cuda|sm|compute|test|case|run|gcam|scenario|region|ssp|rcp|tick|frame|page|port)\d+",
    re.I,
)


class RedactionRulesError(ValueError):
    """A rules file that cannot be read or has an invalid rule."""


def _shannon(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_WORDISH = re.compile(r"[A-Za-z]+\d*|\d+[A-Za-z]*|[0-9a-f]{6,16}|[A-Z]?[a-z]+(?:[A-Z][a-z]+)*\d*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"(?:0x)?[0-9a-fA-F]+")
_DASK_KEY = re.compile(r"[A-Za-z_][\w.-]*-[0-9a-f]{32}")


def _high_entropy(s: str) -> bool:
    """Tokens, keys, signatures: long, varied, mixed character classes.

    Long hex strings count (API keys are often hex); UUIDs and Dask keys
    (``name-<32 hex>``) do not, the model needs those to tell tasks apart.
    """
    if _UUID.fullmatch(s) or _DASK_KEY.fullmatch(s):
        return False
    if _HEX.fullmatch(s):
        digits = sum(c.isdigit() for c in s)
        return len(s) >= 20 and 0 < digits < len(s) and _shannon(s) >= 3.0
    classes = sum(bool(re.search(rx, s)) for rx in (r"[a-z]", r"[A-Z]", r"\d"))
    # Paths, Dask keys and identifiers: words, numbers ("L2052", "v2") and short hex
    # hashes joined by - _ . /  -- random tokens interleave letters and digits.
    if all(_WORDISH.fullmatch(p) for p in re.split(r"[-_./]", s) if p):
        return False
    h = _shannon(s)
    if classes == 3 and h >= 3.5:
        return True
    return classes >= 2 and len(s) >= 32 and h >= 4.0


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


def _hostish(s: str) -> bool:
    """A word after "host"/"node"/"ssh" that has the shape of a machine name."""
    return _not_loopback(s) and bool(re.search(r"[\d.-]", s)) and not s.replace(".", "").isdigit() and not _is_file(s)


def _is_file(s: str) -> bool:
    return "." in s and s.rsplit(".", 1)[1].lower() in _FILE_EXTS


#: First labels of dotted Python names and config keys (distributed.worker.memory.target): not hosts.
_PY_ROOTS = frozenset(
    "distributed dask numpy np pandas pd xarray xr scipy tornado concurrent asyncio os sys builtins collections "
    "multiprocessing urllib urllib3 requests botocore boto3 google azure openai torch tensorflow jax self cls "
    "scalable gcam msgpack cloudpickle pickle json logging subprocess socket ssl http email typing".split()
)


def _dotted_host(s: str) -> bool:
    labels = s.split(".")
    if _is_file(s) or labels[-1].isdigit() or not _not_loopback(s) or labels[0].lower() in _PY_ROOTS:
        return False
    return any(re.search(r"[\d-]", label) for label in labels[:-1])


def _numbered_host(s: str) -> bool:
    return not _NOT_HOST_WORDS.fullmatch(s)


def _token_tail(s: str) -> bool:
    tail = re.split(r"[_-]", s)[-1]
    if _HEX.fullmatch(tail):  # Dask keys (name-<32 hex>); bare long hex is the entropy rule's
        return False
    return len(tail) >= 20 and bool(re.search(r"\d", tail)) and bool(re.search(r"[A-Za-z]", tail))


def _secretish(s: str) -> bool:
    """A value after "password " with no = or :, which looks like a secret rather than a word."""
    return len(s) >= 6 and not s.isalpha() or (len(s) >= 8 and not s.islower() and not s.istitle())


def _not_small_number(s: str) -> bool:
    return not (s.isdigit() and len(s) <= 6) and s.lower() not in ("none", "null", "true", "false", "''", '""')


def _has_colon(s: str) -> bool:
    return ":" in s


def _not_path_or_number(s: str) -> bool:
    return not s.startswith(("/", "~", ".", "$")) and not s.isdigit()


def _user_name(s: str) -> bool:
    return 0 < len(s) <= 64 and s.lower() not in _USER_STOPLIST and not _PLACEHOLDER.fullmatch(s)


CHECKS: dict[str, Callable[[str], bool]] = {
    "high_entropy": _high_entropy,
    "ipv4_not_loopback": _ipv4_not_loopback,
    "ipv6": _ipv6,
    "not_loopback": _not_loopback,
    "hostish": _hostish,
    "dotted_host": _dotted_host,
    "numbered_host": _numbered_host,
    "token_tail": _token_tail,
    "secretish": _secretish,
    "not_small_number": _not_small_number,
    "has_colon": _has_colon,
    "not_path_or_number": _not_path_or_number,
    "user_name": _user_name,
}


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


# Terminal escapes (CSI, OSC, DCS/PM/APC strings, two-byte ESC sequences, 8-bit CSI)
# and invisible format characters: removed before matching, so colour codes or a
# zero-width space inside a secret cannot hide it from the rules.
_ANSI = re.compile(
    r"\x1b\[[0-?]*+[ -/]*+[@-~]?|\x9b[0-?]*+[ -/]*+[@-~]?|\x1b\][^\x07\x1b\x9c]*+(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x1b\x9c]*+(?:\x1b\\|\x9c)?|\x1b[ -/]*+[0-~]?"
)
_INVISIBLE = re.compile(r"[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# A line break inside a token (hard-wrapped tracebacks, log lines cut at a width).
_WRAP = re.compile(r"(?<=\S)\r?\n[ \t]*(?=\S)")


def strip_terminal(text: str) -> str:
    """The text as a person reads it: no escape sequences, no invisible or bidi characters."""
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    return _INVISIBLE.sub("", text)


class Redactor:
    """Replaces sensitive values with placeholders, consistently within one request.

    :meth:`redact` is for one full text (never a cut piece: cut afterwards);
    :meth:`sweep` replaces every value learned so far wherever it appears,
    so a value found in one field (``password=X``) is also hidden where it
    stands alone, with the same placeholder.
    """

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
        self._sweep_rx: re.Pattern[str] | None = None
        self._sweep_n = -1
        #: Replacements made per rule name (for the preview and tests).
        self.hits: Counter[str] = Counter()

    def placeholder(self, kind: str, value: str) -> str:
        key_value = value.lower() if kind in ("host", "email", "user") else value
        ph = self._by_value.get((kind, key_value))
        if ph is None:
            ph = self._same_as_cut(kind, key_value)
            if ph is not None:
                self._by_value[(kind, key_value)] = ph
        if ph is None:
            self._counters[kind] += 1
            ph = self._by_value[(kind, key_value)] = f"<{kind}-{self._counters[kind]}>"
        return ph

    def _same_as_cut(self, kind: str, value: str) -> str | None:
        """The placeholder of the same value seen whole elsewhere, when one of them was cut.

        Text that another part cut at a fixed length ends in ``CUT_MARK``; what
        precedes it, when long enough, is the start of a value seen whole.
        """
        for (k, v), ph in self._by_value.items():
            if k != kind:
                continue
            short, whole = (value, v) if value.endswith(CUT_MARK) else (v, value) if v.endswith(CUT_MARK) else ("", "")
            stem = short[: -len(CUT_MARK)]
            if len(stem) >= 8 and whole.startswith(stem):
                return ph
        return None

    @property
    def mapping(self) -> dict[str, str]:
        """placeholder -> kind (never the secret itself, so it is safe to show)."""
        return {ph: kind for (kind, _), ph in self._by_value.items()}

    def redact(self, text: str) -> str:
        """The full text with every secret replaced, then made printable.

        Order matters: terminal escapes and invisible characters go first (a
        colour code inside a token would hide it), then secrets wrapped over
        two lines are found in the text with those breaks joined, then every
        rule runs, and only then are remaining control characters escaped.
        """
        if not text:
            return text
        text = strip_terminal(text)
        if "\n" in text:
            joined = _WRAP.sub("", text)
            if joined != text:
                found: list[tuple[str, str]] = []
                self._apply(joined, found)
                for kind, value in sorted(set(found), key=lambda kv: -len(kv[1])):
                    if len(value) >= 4 and value not in text:
                        rx = r"(?:\r?\n[ \t]*)?".join(map(re.escape, value))
                        text = re.sub(rx, self.placeholder(kind, value).replace("\\", "\\\\"), text)
        return printable(self._apply(text, None))

    def _apply(self, text: str, found: list[tuple[str, str]] | None) -> str:
        for rule in self.rules:
            text = rule.regex.sub(lambda m, r=rule: self._replace(r, m, found), text)
        return text

    def _replace(self, rule: Rule, m: re.Match[str], found: list[tuple[str, str]] | None) -> str:
        whole = m.group(0)
        edits: list[tuple[int, int, str]] = []
        for g, kind in rule.parts:
            value = m.group(g)
            if not value:
                continue
            value_s, value_e = m.start(g), m.end(g)
            if g != 0 and m.string[value_s - 1 : value_s] not in ("'", '"'):
                # an unquoted value ends before trailing punctuation: "password=x)." -> "x"
                stripped = value.rstrip(".,;:)]}")
                if stripped:
                    value_e -= len(value) - len(stripped)
                    value = stripped
            if _HAS_PLACEHOLDER.fullmatch(value) or (value.startswith("<") and _HAS_PLACEHOLDER.match(value)):
                continue
            if rule.check is not None and not rule.check(value):
                continue
            if found is not None:
                found.append((kind, value))
            self.hits[rule.name] += 1
            edits.append((value_s - m.start(0), value_e - m.start(0), self.placeholder(kind, value)))
        for s, e, ph in sorted(edits, reverse=True):
            whole = whole[:s] + ph + whole[e:]
        return whole

    def sweep(self, text: str) -> str:
        """Replace every value learned so far (by any rule, in any field) wherever it appears."""
        if not text or not self._by_value:
            return text
        if self._sweep_n != len(self._by_value):
            alts = []
            for (kind, value), _ph in sorted(self._by_value.items(), key=lambda kv: -len(kv[0][1])):
                if len(value) < (3 if kind in ("user", "host") else 4):
                    continue
                esc = re.escape(value)
                if kind in ("user", "host", "email", "ip"):
                    alts.append(rf"(?<![\w-]){esc}(?![\w-])")
                elif len(value) < 8:  # a short secret only as a whole word
                    alts.append(rf"(?<![A-Za-z0-9]){esc}(?![A-Za-z0-9])")
                else:
                    alts.append(esc)
            self._sweep_rx = re.compile("|".join(alts), re.IGNORECASE) if alts else None
            self._lookup = {k[1]: ph for k, ph in self._by_value.items()}
            self._lookup_ci = {k[1].lower(): ph for k, ph in self._by_value.items()}
            self._sweep_n = len(self._by_value)
        if self._sweep_rx is None:
            return text

        def sub(m: re.Match[str]) -> str:
            v = m.group(0)
            return self._lookup.get(v) or self._lookup_ci.get(v.lower(), v)

        return self._sweep_rx.sub(sub, text)

    def sweep_obj(self, obj: Any, *, top: bool = True) -> Any:
        """:meth:`sweep` on every string; dict keys too, except the caller's own top-level ones."""
        if isinstance(obj, str):
            return self.sweep(obj)
        if isinstance(obj, dict):
            return {(k if top or not isinstance(k, str) else self.sweep(k)): self.sweep_obj(v, top=False) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.sweep_obj(v, top=False) for v in obj]
        return obj

    def redact_obj(self, obj: Any, key: str | None = None) -> Any:
        """Every string in a JSON-like structure, dict keys included.

        A value whose key names a secret (``password``, ``api_key``, ``token``…)
        is replaced whole, whatever it looks like: the key is the evidence.
        """
        if isinstance(obj, (bytes, bytearray)):
            obj = bytes(obj).decode("utf-8", "replace")
        if key is not None and _SECRET_KEY.search(key) and not isinstance(obj, (dict, list, tuple, bool)) and obj is not None:
            text = strip_terminal(str(obj))
            if text and not _PLACEHOLDER.fullmatch(text):
                self.hits["secret-key-name"] += 1
                return self.placeholder("secret", text)
            return text
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {self.redact(str(k)): self.redact_obj(v, str(k)) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v, key) for v in obj]
        return obj


# A key that names a secret: the secret word at its end, after a separator or at
# the start (api_key, DB_PASSWORD, client-secret, PGPASSWORD) -- not "tiktoken".
_SECRET_KEY = re.compile(r"(?:^|[\W_]|^pg|^mysql)" + _SECRET_WORDS + r"s?$|^(?:key|sig|signature|auth|authorization)$", re.IGNORECASE)
