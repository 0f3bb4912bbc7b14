"""No planted secret, nor any 8-character piece of one, reaches what would be sent.

The corpus (``data/secrets.json``, made by ``data/make_secrets.py``) holds
secret shapes in the context line where they show up in real failures.  Each is
embedded the hostile ways the adversarial pass found: at random offsets in
long messages and tracebacks, across a line wrap, inside ANSI colour, in a
``b'…'`` repr, past the 2000-character cut of ``example_message``, and in run
context fields under their key names.  The payload is built as
``diagnose --show-prompt`` builds it (and, once, by the real CLI).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.llm.config import AIConfig
from assistant.llm.payload import build_prompt
from assistant.llm.prompt_text import unwrap_data
from assistant.llm.redact import Redactor
from scalable_tui.model.diagnosis import Diagnosis, Evidence, Finding
from assistant.signature import normalize_message
from tests.conftest import run_cli

CORPUS: list[dict[str, str]] = json.loads((Path(__file__).parent / "data" / "secrets.json").read_text(encoding="utf-8"))
# Filler vocabulary: words shorter than 8 characters, so filler can never
# contain an 8-character piece of a secret by itself.
WORDS = ("task", "step", "failed", "value", "in", "the", "at", "with", "chunk", "frame", "cell", "layer",
         "graph", "of", "for", "array", "region", "model", "basin")
WORDS = tuple(w for w in WORDS if len(w) < 8)


def context_line(entry: dict[str, str]) -> str:
    return entry["context"].replace("{secret}", entry["secret"])


def pieces(secret: str) -> set[str]:
    s = secret.lower()
    return {s} if len(s) < 8 else {s[i : i + 8] for i in range(len(s) - 7)}


def leaked(entry: dict[str, str], text: str) -> bool:
    low = text.lower()
    return any(p in low for p in pieces(entry["secret"]))


def where_leaked(kinds: list[str], text: str) -> list[str]:
    """Around each leaked piece, for the failure message."""
    out = []
    for e in CORPUS:
        if e["kind"] in kinds:
            p = next(p for p in pieces(e["secret"]) if p in text.lower())
            i = text.lower().index(p)
            out.append(f"{e['kind']}: {p!r} in …{text[max(0, i - 100) : i + 40]!r}…")
    return out


def sent_text(prompt: Any) -> str:
    """Everything --show-prompt prints, both as JSON text and as decoded strings."""
    preview = prompt.preview()
    return json.dumps(preview, ensure_ascii=False) + "\n" + "\n".join(m["content"] for m in preview["messages"])


def finding_like_diagnose(message: str, traceback: str | None, cls: str = "RuntimeError", fid: str = "s1-000000000001",
                          count: int = 1, task: str = "run_gcam") -> Finding:
    """A Finding with the fields diagnose() fills from a failure (same cuts, same normalisation)."""
    return Finding(
        id=fid, category="user_code", severity="error", title=f"{cls} in {task}", count=count,
        exception_types=[cls], pattern=normalize_message(message),
        suggestion=f"Bugs in the task code ({cls}: {message[:80]}). Reproduce one failing task locally.",
        evidence=[Evidence(timestamp="2026-11-25T11:47:14Z", source="failures.jsonl:3", text=f"{cls}: {message}"[:500])],
        task_names={task: count}, example_message=message[:2000], example_traceback=traceback,
    )


def diagnosis_of(*findings: Finding) -> Diagnosis:
    return Diagnosis(run_id="r", run_dir="/tmp/r", status="failed", summary="s", failures_total=sum(f.count for f in findings),
                     tasks={"failed": 1}, tasks_total=1, findings=list(findings), signature_version=1)


def prompt_for(diag: Diagnosis, context: dict[str, Any] | None = None) -> Any:
    cfg = AIConfig(endpoint="http://127.0.0.1:9/v1", budget_tokens=200_000)
    return build_prompt(diag, None, cfg, context=context)


def traceback_with(line: str, where: str, depth: int) -> str:
    frames = []
    for i in range(depth):
        src = line if where == "frame" and i == depth - 1 else f"step_{i}(x)"
        frames.append(f'  File "/opt/app/mod{i}.py", line {10 + i}, in step_{i}\n    {src}')
    exc = f"RuntimeError: {line}" if where != "frame" else "RuntimeError: failed"
    return "Traceback (most recent call last):\n" + "\n".join(frames) + "\n" + exc + "\n"


# -- the corpus itself ---------------------------------------------------------
def test_corpus_has_at_least_60_shapes_and_is_clean() -> None:
    assert len(CORPUS) >= 60
    assert len({e["kind"] for e in CORPUS}) == len(CORPUS)
    for e in CORPUS:
        assert set(e) == {"kind", "context", "secret"} and "{secret}" in e["context"]
        # a leak can only be the secret: neither the context nor the filler holds a piece of it
        others = " ".join(x["context"].replace("{secret}", " ") for x in CORPUS) + " " + " ".join(WORDS)
        assert not leaked(e, others), e["kind"]


def test_corpus_leak_count_is_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """Each context line alone, redacted with a fresh Redactor: the number for the report."""
    leaks = [e["kind"] for e in CORPUS if leaked(e, Redactor(local_identity=False).redact(context_line(e)))]
    with capsys.disabled():
        print(f"\nsecret corpus: {len(CORPUS)} shapes, {len(leaks)} leaked {leaks}")
    assert leaks == []


# -- hostile embeddings, the payload as --show-prompt builds it ------------------
EMBEDDINGS = ("plain", "wrap", "wrap-indent", "ansi", "ansi-inside", "bytes", "traceback", "frame", "cut-2000")


def embed(entry: dict[str, str], how: str, rnd: random.Random, n_words: int) -> tuple[str, str | None]:
    """(message, traceback) with the entry's context line embedded the ``how`` way."""
    secret = entry["secret"]
    line = context_line(entry)
    if how in ("wrap", "wrap-indent"):
        cut = rnd.randint(1, len(secret) - 1)
        brk = "\n" if how == "wrap" else "\n    "
        line = entry["context"].replace("{secret}", secret[:cut] + brk + secret[cut:])
    elif how == "ansi":
        line = entry["context"].replace("{secret}", f"\x1b[1;31m{secret}\x1b[0m")
    elif how == "ansi-inside":
        cut = rnd.randint(1, len(secret) - 1)
        line = entry["context"].replace("{secret}", f"\x1b[33m{secret[:cut]}\x1b[0m\x1b[33m{secret[cut:]}\x1b[0m")
    elif how == "bytes":
        line = repr(line.encode("utf-8"))
    words = [rnd.choice(WORDS) for _ in range(n_words)]
    if how == "cut-2000":
        # the secret straddles the 2000-character cut diagnose() makes
        pad = " ".join(rnd.choice(WORDS) for _ in range(600))
        mid = (line.index(secret) if secret in line else 0) + len(secret) // 2
        head = pad[: max(0, 2000 - mid - 1)]
        return head + " " + line + " " + " ".join(words), None
    at = rnd.randint(0, len(words))
    message = " ".join(words[:at] + [line] + words[at:])
    if how == "traceback":
        return "failed", traceback_with(message, "exc", rnd.randint(1, 6))
    if how == "frame":
        return message, traceback_with(line, "frame", rnd.randint(1, 6))
    return message, None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    idx=st.integers(0, len(CORPUS) - 1),
    how=st.sampled_from(EMBEDDINGS),
    seed=st.integers(0, 2**32 - 1),
    n_words=st.integers(0, 800),
)
def test_no_planted_secret_reaches_the_prompt(idx: int, how: str, seed: int, n_words: int) -> None:
    entry = CORPUS[idx]
    message, tb = embed(entry, how, random.Random(seed), n_words)
    f = finding_like_diagnose(message, tb)
    prompt = prompt_for(diagnosis_of(f))
    text = sent_text(prompt)
    assert not leaked(entry, text), (entry["kind"], how, text[-3000:])
    # the group is still there to be explained
    assert prompt.finding_ids == [f.id]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 12))
@example(seed=210, k=6)  # a PEM block whose END line the 2000-character message cut fell in: two placeholders
def test_many_secrets_in_one_payload_share_stable_placeholders(seed: int, k: int) -> None:
    """Several findings carry the same secrets, cut differently: one placeholder per value."""
    rnd = random.Random(seed)
    entries = rnd.sample(CORPUS, k)
    lines = [context_line(e) for e in entries]
    findings = []
    for i in range(3):
        rnd.shuffle(lines)
        filler = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 400)))
        msg = filler + " " + " | ".join(lines)
        findings.append(finding_like_diagnose(msg, traceback_with(msg, "exc", 2), fid=f"s1-00000000000{i}", count=3 - i,
                                              cls=("ValueError", "OSError", "KeyError")[i]))
    red = Redactor()
    prompt = build_prompt(diagnosis_of(*findings), None, AIConfig(endpoint="http://127.0.0.1:9/v1", budget_tokens=200_000),
                          redactor=red)
    text = sent_text(prompt)
    bad = [e["kind"] for e in entries if leaked(e, text)]
    assert not bad, bad
    # one placeholder per secret, even where another part had cut the text through it
    for e in entries:
        placeholders = {ph for (_kind, v), ph in red._by_value.items() if pieces(e["secret"]) & pieces(v)}
        assert len(placeholders) == 1, (e["kind"], placeholders)


@settings(max_examples=60, deadline=None)
@given(idx=st.integers(0, len(CORPUS) - 1), keyname=st.sampled_from(
    ["password", "DB_PASSWORD", "api_key", "token", "AWS_SECRET_ACCESS_KEY", "client-secret", "passphrase", "auth"]),
    where=st.sampled_from(["value", "nested", "list", "key-only"]))
def test_run_context_values_are_redacted_with_their_key_names(idx: int, keyname: str, where: str) -> None:
    entry = CORPUS[idx]
    secret = entry["secret"]
    ctx: dict[str, Any]
    if where == "value":
        ctx = {"provider": "slurm", keyname: secret}
    elif where == "nested":
        ctx = {"provider": "slurm", "environment": {keyname: secret, "OTHER": context_line(entry)}}
    elif where == "list":
        ctx = {"provider": "slurm", keyname: [secret, secret.encode()]}
    else:
        ctx = {"provider": "slurm", "notes": context_line(entry)}
    prompt = prompt_for(diagnosis_of(finding_like_diagnose("division by zero", None)), ctx)
    assert not leaked(entry, sent_text(prompt)), (entry["kind"], where)


def test_a_bare_value_known_from_another_field_is_hidden_too() -> None:
    """The adversarial pass: a value caught in one field ("password=X") must go everywhere."""
    secret = "Qz7tLm4wPx"
    f = finding_like_diagnose(f"login failed with password={secret}", None)
    g = finding_like_diagnose(f"retrying as {secret} again", None, fid="s1-000000000002", cls="OSError")
    text = sent_text(prompt_for(diagnosis_of(g, f)))
    assert secret not in text


def test_current_user_and_any_host_name_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "kqoperator")
    monkeypatch.setenv("LOGNAME", "kqoperator")
    monkeypatch.setattr("socket.gethostname", lambda: "bx-cluster-head")
    msg = "kqoperator could not reach bx-cluster-head nor gpu-rack4.site-internal.zz"
    text = sent_text(prompt_for(diagnosis_of(finding_like_diagnose(msg, None))))
    for value in ("kqoperator", "bx-cluster-head", "gpu-rack4.site-internal.zz"):
        assert value not in text


def test_control_characters_and_bidi_never_reach_the_prompt() -> None:
    msg = "bad \x1b]52;c;ZXZpbA==\x07 value \u202eeulav\u202c \x00\x08\x9b31m end"
    ctx = {"provider": "slu\x1b[2Jrm", "target": "gcam\u2066x\u2069"}
    prompt = prompt_for(diagnosis_of(finding_like_diagnose(msg, traceback_with(msg, "exc", 2))), ctx)
    for m in prompt.messages:
        assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                       for c in m["content"])


# -- the real CLI on a run directory written to tmp -------------------------------
def test_show_prompt_of_a_real_run_with_the_whole_corpus_leaks_nothing(run_copy, tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    run = run_copy("mixed-failures")
    lines = (run / "failures.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    rnd = random.Random(13)
    hows = ("plain", "wrap", "ansi", "bytes", "traceback", "frame", "ansi-inside", "wrap-indent")
    classes = ("ValueError", "RuntimeError", "OSError", "KeyError", "TypeError", "ConnectionError", "IndexError", "AttributeError")
    extra = []
    # 8 groups (all explained: the CLI explains up to 10), each with several secrets
    for g, cls in enumerate(classes):
        msgs, tbs = [], []
        for e in CORPUS[g::len(classes)]:
            m, tb = embed(e, hows[(g + len(msgs)) % len(hows)], rnd, rnd.randint(0, 40))
            msgs.append(m)
            if tb:
                tbs.append(tb)
        msg = " ;; ".join(msgs) + " kqoperator"
        for i in range(40):  # more failures than the fixture's own groups: these are explained first
            rec = dict(first)
            rec["failure_class"] = cls
            rec["message"] = msg
            rec["details"] = {"phase": "task_execution", "traceback": "\n".join(tbs) + f"\n{cls}: {msg}\n",
                              "worker_id": "tcp://10.9.8.7:40001"}
            rec["task_id"] = f"c0ffee{g:02d}{i:022d}"
            extra.append(json.dumps(rec))
    (run / "failures.jsonl").write_text("\n".join(lines + extra) + "\n")
    p = run_cli("diagnose", str(run), "--show-prompt", "--ai-endpoint", "http://127.0.0.1:9/v1", "--ai-budget", "200000",
                env={"USER": "kqoperator", "LOGNAME": "kqoperator", "SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")})
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    text = p.stdout + "\n".join(m["content"] for m in doc["messages"])
    bad = [e["kind"] for e in CORPUS if leaked(e, text)]
    assert bad == [], where_leaked(bad, text)
    assert "kqoperator" not in text
    payload = unwrap_data(doc["messages"][1]["content"])
    # and what really goes over the wire to an endpoint (bytes as the server received them)
    env = {"USER": "kqoperator", "LOGNAME": "kqoperator", "SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")}
    q = run_cli("diagnose", str(run), "--ai-endpoint", server.url, "--ai-budget", "200000", "--format", "json", env=env)
    assert q.returncode == 0 and server.requests, q.stderr
    wire = server.all_bytes().decode("utf-8", "replace")
    wire += "\n".join(m["content"] for r in server.requests for m in r.json["messages"])
    bad = [e["kind"] for e in CORPUS if leaked(e, wire)]
    assert bad == [], where_leaked(bad, wire)
    explained = [f for f in payload["findings"] if f.get("count") == 40]
    listed = {t for f in payload["findings"] + payload.get("other_groups", []) if f.get("count") == 40
              for t in f.get("exception_types", [])}
    # the planted groups were really in the prompt (severity decides which are explained in full)
    assert listed == set(classes) and len(explained) >= 5
    assert all("traceback" in f and "example_message" in f for f in explained)


def test_context_keeps_what_is_not_secret_and_payload_keys_stay_intact() -> None:
    """Over-redaction costs diagnoses: package versions stay; a secret equal to a field name breaks nothing."""
    ctx = {"provider": "slurm", "versions": {"tiktoken": "0.7.0", "keyring": "24.3.1", "dask": "2024.8.0"}}
    f = finding_like_diagnose("login failed: password=message retry", None)
    prompt = prompt_for(diagnosis_of(f), ctx)
    payload = unwrap_data(prompt.messages[1]["content"])
    assert payload["run"]["versions"] == ctx["versions"]
    (row,) = payload["findings"]
    assert {"id", "title", "example_message", "heuristic_suggestion"} <= set(row)
    assert "password=<secret-1>" in row["example_message"]


def test_a_pattern_normalised_before_redaction_is_not_split_by_its_masks() -> None:
    """No example message: only diagnose()'s pattern, where <n> cut the secret in two."""
    f = finding_like_diagnose("x", None).model_copy(update={"example_message": "", "pattern": "auth failed token=Qz<n>Lmx7Wp, retry"})
    text = sent_text(prompt_for(diagnosis_of(f)))
    assert "Lmx7Wp" not in text and "Qz" not in text.split("token=")[1][:3]
