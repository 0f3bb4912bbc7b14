"""Redaction of everything that leaves the machine for an AI endpoint: the engine.

A :class:`Redactor` is used for one request: the same value always gets the
same placeholder (``<secret-1>``, ``<host-2>``, ``<email-1>``, ``<user-1>``), so
the model can still tell two hosts apart.  Host and IP rules (kinds ``host``
and ``ip``) are skipped with ``keep_hosts``.  The rules themselves are data in
:mod:`assistant.llm.redact_rules`; compiling them and reading a site's rules
file is :mod:`assistant.llm.redact_compile`'s job.

Order matters, and the payload keeps it: terminal escapes and invisible
characters are removed first (a colour code inside a token hides it), then the
FULL text is redacted (a cut secret no longer matches its rule), and only then
is it normalised or cut.  :meth:`Redactor.sweep` finally replaces every value
learned anywhere in the payload wherever else it appears.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

from assistant.llm.redact_compile import Rule, compile_rule, load_rules_file, local_identity_rules
from assistant.llm.redact_rules import BUILTIN_RULES, CUT_MARK, HOST_KINDS, _HAS_PLACEHOLDER, _PLACEHOLDER, _SECRET_WORDS
from assistant.textsafe import printable

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


def _stem(value: str, open_end: bool) -> str | None:
    """What a cut value is known to start with (8 characters at least), or None when it was not cut."""
    if value.endswith(CUT_MARK):
        stem = value[: -len(CUT_MARK)]
    elif open_end:
        stem = value
    else:
        return None
    return stem if len(stem) >= 8 else None


#: U+FF01..U+FF5E, the fullwidth forms of ``!``..``~``, and the ideographic space.
_FULLWIDTH = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}


def strip_terminal(text: str) -> str:
    """The text as a person reads it: no escape sequences, no invisible or bidi characters."""
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    if not text.isascii():
        # Fullwidth forms read as their plain letters: ``ｐａｓｓｗｏｒｄ=…`` is ``password=…`` to a rule too.
        # (Not all of NFKC: it would also rewrite text the model should see as written, "…" into "...".)
        text = text.translate(_FULLWIDTH)
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
        #: Values that ran to the end of their text (maybe cut there, with no mark: see ``_same_as_cut``).
        self._open: set[tuple[str, str]] = set()
        self._counters: Counter[str] = Counter()
        self._sweep_rx: re.Pattern[str] | None = None
        self._sweep_n = -1
        #: Replacements made per rule name (for the preview and tests).
        self.hits: Counter[str] = Counter()

    def placeholder(self, kind: str, value: str, *, open_end: bool = False) -> str:
        """The value's placeholder: one per value across the request.  ``open_end``: it ran to the end of its text."""
        key_value = value.lower() if kind in ("host", "email", "user") else value
        key = (kind, key_value)
        if open_end:
            self._open.add(key)
        ph = self._by_value.get(key)
        if ph is None:
            ph = self._same_as_cut(kind, key_value, open_end)
            if ph is not None:
                self._by_value[key] = ph
        if ph is None:
            self._counters[kind] += 1
            ph = self._by_value[key] = f"<{kind}-{self._counters[kind]}>"
        return ph

    def _same_as_cut(self, kind: str, value: str, open_end: bool) -> str | None:
        """The placeholder of the same value seen whole elsewhere, when one of them was cut.

        Text that another part cut at a fixed length ends in ``CUT_MARK``; what
        precedes it, when long enough, is the start of a value seen whole.  A
        text cut without a mark (a failure's message, kept to its first 2000
        characters) can end inside a value: a PEM block whose END line was cut
        matches up to the end of the text.  So a value that ran to the end of
        its text is taken as a possible start too.
        """
        own = _stem(value, open_end)
        for (k, v), ph in self._by_value.items():
            if k != kind or v == value:
                continue
            if own is not None and v.startswith(own):
                return ph
            other = _stem(v, (k, v) in self._open)
            if other is not None and value.startswith(other):
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
            # only secrets: "node1234" at the end of a text is not the start of "node12345"
            ph = self.placeholder(kind, value, open_end=kind == "secret" and m.end(g) == len(m.string))
            edits.append((value_s - m.start(0), value_e - m.start(0), ph))
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
_SECRET_KEY = re.compile(r"(?:^|[\W_]|^pg|^mysql)" + _SECRET_WORDS + r"s?$|^(?:key|sig|signature|auth|authorization)$"
                         r"|(?:^|[\W_])pw$", re.IGNORECASE)
