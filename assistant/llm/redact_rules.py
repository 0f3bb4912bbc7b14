"""The built-in redaction rules as data, and the named checks a rule may use.

The rules are data (:data:`BUILTIN_RULES`): a name, a regular expression, the
kind of placeholder it produces and optionally which group to replace and a
named check (:data:`CHECKS`) that filters a match before it is replaced.  The
patterns were hardened for linear time on hostile input; tests/hostile and
tests/llm compare them with frozen copies, so change them only on purpose.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Callable

HOST_KINDS = frozenset({"host", "ip"})
#: Ends text that was cut at a fixed length before it could be redacted (see payload_fields._drop_partial_token).
CUT_MARK = "[…]"

# Top-level domains that mark a dotted name as a host name rather than a Python
# module (``distributed.worker``) or a file (``model.py``: .py, .sh, .md, .rs
# and .so are deliberately absent).
_TLDS = (
    "com|net|org|edu|gov|mil|io|ai|dev|cloud|local|localdomain|internal|intranet|lan|corp|"
    "cluster|hpc|us|uk|de|fr|ca|au|jp|cn|ch|nl|se|fi|es|eu|ru|biz|tech|science|ac|br|dk|ie|kr|nz|pl|pt|tw"
)

# A value after ``name=`` / ``name: ``: the whole quoted string (spaces, commas
# and all; ``b'…'`` bytes reprs too; a quote followed by a letter is inside it, as in
# ``'it\\'s'``), else everything up to white space.  No closing quote, no quoted value: the
# redactor also reads the text with wrapped lines joined, where "to the line's end" took the rest
# of a traceback.  Three alternative groups: the first
# that matched is replaced.  Bounded repeats, or one character class run, keep
# every rule linear on hostile input; a value longer than the bound is taken whole
# (its tail leaked when the match stopped at 512 characters).
_VALUE = (r"""(?:[bBrRuU]{0,2}\\{0,3}'((?:[^'\n]|'(?=\w)){1,512}?(?=\\{0,3}'(?!\w))|[^'\n]{513,}(?=\\{0,3}'(?!\w)))"""
          r"""|[bBrRuU]{0,2}\\{0,3}"((?:[^"\n]|"(?=\w)){1,512}?(?=\\{0,3}"(?!\w))|[^"\n]{513,}(?=\\{0,3}"(?!\w)))"""
          r"""|((?:[^\s'"<>&;,]|[&;,](?![ \t]?[\w.-]{1,40}=)){1,512}[^\s'"<>&;,]*))""")
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
    # (a password may hold "/" and "@": everything from the user's ":" to the last "@" of the run;
    # "host:8501/path@…" is a port, not a password)
    {"name": "url-credentials", "kind": "secret", "group": 1,
     "pattern": r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}://((?:[^\s/@:'\"<>]{1,256}:(?![0-9]{1,5}(?:/|$))[^\s'\"<>]{1,512}|[^\s/@'\"<>]{1,512}))@"},
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
    # pw=…, db_pw: …  (only written tight: "pw = getpass.getpass()" is a line of code)
    {"name": "pw-parameter", "kind": "secret", "group": [1, 2, 3], "ignore_case": True, "check": "not_small_number",
     "pattern": r"(?<![\w-])(?:[\w-]{0,40}[_-])?pw\\{0,3}['\"]?(?:=|:[ \t]{0,8})" + _VALUE},
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
    # A dotted name where only a host stands, whatever its labels look like (frontier.olcf,
    # login.frontier.olcf, summit.ccs.ornl): before a port (name.x:8786), after // (//fs.lab/share) or
    # a UNC \\ (doubled in a bytes repr), after a host option (-h, -H, -J, --host, --server).  A Python
    # dotted name (numpy.core, os.path, self.client, module paths) does not stand there, and
    # ``dotted_name_host`` still refuses file names and the first labels of Python modules and config keys.
    {"name": "host-port", "kind": "host", "group": 1, "ignore_case": True, "check": "dotted_name_host",
     "pattern": r"(?<![\w.@/\\-])([a-z][a-z0-9-]{0,62}(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?){1,8}):\d{2,5}(?![\w:])"},
    {"name": "slash-host", "kind": "host", "group": 1, "ignore_case": True, "check": "dotted_name_host",
     "pattern": r"(?:(?<![\w:/])//|(?<![\w\\])\\{2,4})([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?){1,8})(?=[/\\:\s'\"]|$)"},
    {"name": "host-option", "kind": "host", "group": 1, "ignore_case": True, "check": "dotted_name_host",
     "pattern": r"(?<![\w-])(?:-[hj]|--(?:host(?:name)?|server|jump|proxy-host))(?:=|[ \t]{1,8})['\"]?"
                r"([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?){1,8})(?![\w-]|\.\w)"},
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


def _dotted_name_host(s: str) -> bool:
    """A dotted name in a host position (before a port, after //, after -h): a host unless it is a file
    (``model.py``) or starts like a Python module or config key (``distributed.worker``, ``self.x``)."""
    labels = s.split(".")
    return not (_is_file(s) or labels[-1].isdigit() or not _not_loopback(s) or labels[0].lower() in _PY_ROOTS)


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
    "dotted_name_host": _dotted_name_host,
    "numbered_host": _numbered_host,
    "token_tail": _token_tail,
    "secretish": _secretish,
    "not_small_number": _not_small_number,
    "has_colon": _has_colon,
    "not_path_or_number": _not_path_or_number,
    "user_name": _user_name,
}
