"""`scalable-tui diagnose` with AI, as users run it: a real process, real HTTP to 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.llm.prompt_text import unwrap_data
from tests.conftest import ROOT, run_cli, tree_fingerprint
from tests.llm import fakeserver as fs
from tests.conftest import closed_port
from tests.llm.conftest import SECRETS, plant_secrets


@pytest.fixture
def cli(private_cache: Path):  # type: ignore[no-untyped-def]
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env={"SCALABLE_TUI_CACHE_DIR": str(private_cache), **(env or {})}, timeout=60)

    return run


@pytest.fixture
def baseline(cli, mixed_run: Path) -> str:  # type: ignore[no-untyped-def]
    p = cli("diagnose", str(mixed_run), "--no-ai")
    assert p.returncode == 0 and p.stderr == ""
    return p.stdout


def test_explanations_in_text_json_and_markdown(cli, server: fs.FakeOpenAI, mixed_run: Path, baseline: str) -> None:  # type: ignore[no-untyped-def]
    before = tree_fingerprint(mixed_run)
    ep = ["--ai-endpoint", server.url, "--ai-model", "test-model"]
    p = cli("diagnose", str(mixed_run), *ep)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert p.stdout.count("Explanation (AI, test-model, confidence: medium):") == 10  # the top 10 findings
    # the heuristic report is all there, in order, with the explanations added
    kept = [ln for ln in baseline.splitlines() if ln.strip()]
    got = [ln for ln in p.stdout.splitlines() if ln.strip()]
    it = iter(got)
    assert all(any(g == k for g in it) for k in kept)
    j = cli("diagnose", str(mixed_run), *ep, "--format", "json")
    doc = json.loads(j.stdout)
    assert doc["method"] == "ai-enhanced" and len(doc["explanations"]) == 10
    assert set(doc["explanations"]) <= {f["id"] for f in doc["findings"]}
    assert len(server.requests) == 1  # the second run was a cache hit
    m = cli("diagnose", str(mixed_run), *ep, "--format", "markdown", "--no-cache")
    assert "**Explanation \\(AI, test-model, confidence: medium\\)**" in m.stdout
    assert len(server.requests) == 2
    assert tree_fingerprint(mixed_run) == before  # nothing written into the run (cache included)


@pytest.mark.parametrize(
    ("kind", "action", "expect"),
    [
        ("connection refused", None, "cannot connect to"),
        ("401", fs.status(401), "rejected the API key (HTTP 401)"),
        ("429", fs.status(429), "rate limiting (HTTP 429) after 3 attempts"),
        ("500", fs.status(500), "server error (HTTP 500) after 3 attempts"),
        ("invalid JSON", fs.content("Sure! Here you go: {not json"), "reply was not valid JSON"),
        ("not validating", fs.explain_all(fix_steps="just one string"), "did not match the expected schema"),
        ("timeout", fs.slow(3, fs.explain_all()), "did not answer within 0.25s"),
    ],
)
def test_each_error_gives_one_clear_line_and_the_full_heuristic_report(  # type: ignore[no-untyped-def]
    cli, server: fs.FakeOpenAI, mixed_run: Path, baseline: str, kind: str, action, expect: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1" if action is None else server.url
    if action is not None:
        server.always(action)
    # --ai-timeout is the total time of the request: short only where the timeout is the point
    p = cli("diagnose", str(mixed_run), "--ai-endpoint", url, "--ai-timeout", "0.25" if kind == "timeout" else "20")
    assert p.returncode == 0
    assert p.stdout == baseline  # heuristics printed in full, nothing else
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and expect in lines[0], p.stderr
    assert lines[0].startswith("scalable-tui: AI explanations unavailable: ")
    assert lines[0].endswith("showing the heuristic findings only")
    assert "Traceback" not in p.stderr


def test_fail_on_still_decides_the_exit_status_when_ai_fails(cli, server: fs.FakeOpenAI, mixed_run: Path) -> None:  # type: ignore[no-untyped-def]
    server.always(fs.status(401))
    p = cli("diagnose", str(mixed_run), "--ai-endpoint", server.url, "--fail-on", "error", "--format", "json")
    assert p.returncode == 1 and json.loads(p.stdout)["method"] == "heuristic"


def test_planted_secrets_never_leave_the_machine(cli, server: fs.FakeOpenAI, run_copy) -> None:  # type: ignore[no-untyped-def]
    run = run_copy("mixed-failures")
    plant_secrets(run)
    p = cli("diagnose", str(run), "--ai-endpoint", server.url, "--format", "json",
            env={"SCALABLE_AI_API_KEY": "sk-the-endpoint-key-is-a-header-not-a-body-1234"})
    assert p.returncode == 0 and json.loads(p.stdout)["method"] == "ai-enhanced", p.stderr
    assert server.requests
    for req in server.requests:
        raw = req.raw.decode()
        text = json.dumps(req.json, ensure_ascii=False) + raw + json.loads(raw)["messages"][1]["content"]
        leaked = {k for k, v in SECRETS.items() if v.lower() in text.lower()}
        assert not leaked, leaked
        assert "BEGIN RSA PRIVATE KEY" not in text and "/home/alicehpc" not in text
    # the planted group was sent, with consistent placeholders
    payload = unwrap_data(server.requests[0].json["messages"][1]["content"])
    planted = next(f for f in payload["findings"] if f["exception_types"] == ["PermissionError"] and "traceback" in f)
    ex = planted["example_message"]
    m = re.match(r"401 from (<host-\d+>) \((<ip-\d+>)\) for (<email-\d+>) token=(<secret-\d+>)$", ex)
    assert m, ex
    host, ip, email, secret = m.groups()
    tb = planted["traceback"]
    assert f"401 from {host} ({ip}, " in tb and f"?token={secret}&" in tb
    assert planted["pattern"].endswith(f"token={secret}")
    assert re.search(r'File "/home/(<user-\d+>)/gcam/http.py"', tb)


def test_show_prompt_prints_the_messages_and_sends_nothing(cli, server: fs.FakeOpenAI, mixed_run: Path) -> None:  # type: ignore[no-untyped-def]
    p = cli("diagnose", str(mixed_run), "--show-prompt", "--ai-endpoint", server.url, "--ai-model", "test-model")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["endpoint"] == server.url and doc["model"] == "test-model"
    assert [m["role"] for m in doc["messages"]] == ["system", "user"]
    assert "nothing was sent" in p.stderr
    assert server.requests == []
    # what it showed is exactly what a real run sends
    cli("diagnose", str(mixed_run), "--ai-endpoint", server.url, "--ai-model", "test-model")
    assert server.requests[0].json["messages"] == doc["messages"]


def test_show_prompt_works_without_any_endpoint(cli, mixed_run: Path) -> None:  # type: ignore[no-untyped-def]
    p = cli("diagnose", str(mixed_run), "--show-prompt")
    assert p.returncode == 0 and json.loads(p.stdout)["messages"]


def test_without_configuration_scripts_get_no_hint(cli, mixed_run: Path, baseline: str) -> None:  # type: ignore[no-untyped-def]
    p = cli("diagnose", str(mixed_run))  # stderr is a pipe, as in cron
    assert p.returncode == 0 and p.stdout == baseline and p.stderr == ""


def test_without_configuration_one_hint_line_at_a_terminal(mixed_run: Path, private_cache: Path,
                                                           baseline: str) -> None:
    """stderr on a real pseudo-terminal: the person at it learns how to turn AI on."""
    import os
    import pty
    import sys

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}
    env["SCALABLE_TUI_CACHE_DIR"] = str(private_cache)
    try:
        p = subprocess.run([sys.executable, "-m", "scalable_tui", "diagnose", str(mixed_run)], stdout=subprocess.PIPE,
                           stderr=slave, env=env, timeout=60)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not b:
                break
            chunks.append(b)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    lines = b"".join(chunks).decode().splitlines()
    assert p.returncode == 0 and p.stdout.decode() == baseline
    assert len(lines) == 1 and "AI explanations are off" in lines[0] and "SCALABLE_AI_ENDPOINT" in lines[0]


def test_cache_inside_the_run_directory_is_refused(cli, server: fs.FakeOpenAI, run_copy) -> None:  # type: ignore[no-untyped-def]
    run = run_copy("mixed-failures")
    before = tree_fingerprint(run)
    for _ in range(2):
        p = cli("diagnose", str(run), "--ai-endpoint", server.url, env={"SCALABLE_TUI_CACHE_DIR": str(run / "cache")})
        assert p.returncode == 0 and "not caching" in p.stderr
    assert tree_fingerprint(run) == before and not (run / "cache").exists()
    assert len(server.requests) == 2


AUDIT = r"""
import json, sys
seen = []
def hook(event, args):
    if event.startswith("socket.") or event in ("http.client.connect", "urllib.Request"):
        seen.append(event)
sys.addaudithook(hook)
from scalable_tui.cli import main
try:
    rc = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as fh:
        json.dump({"events": seen, "openai": "openai" in sys.modules}, fh)
sys.exit(rc)
"""


def _audited(tmp_path: Path, args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "audit.json"
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SCALABLE_", "OPENAI_"))}
    full.update(env)
    p = subprocess.run([sys.executable, "-c", AUDIT, str(out), *args], capture_output=True, text=True, env=full, cwd=ROOT, timeout=60)
    return p, json.loads(out.read_text())


@pytest.mark.parametrize("with_env", [False, True])
def test_no_ai_opens_no_socket(tmp_path: Path, server: fs.FakeOpenAI, mixed_run: Path, with_env: bool) -> None:
    env = {"SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")}
    if with_env:
        env.update(SCALABLE_AI_ENDPOINT=server.url, SCALABLE_AI_API_KEY="k", OPENAI_BASE_URL=server.url, OPENAI_API_KEY="k")
    for fmt in ("text", "json"):
        p, audit = _audited(tmp_path, ["diagnose", "--no-ai", str(mixed_run), "--format", fmt], env)
        assert p.returncode == 0 and p.stderr == "", p.stderr
        assert audit == {"events": [], "openai": False}
    assert server.requests == []


def test_the_audit_hook_does_see_connections(tmp_path: Path, server: fs.FakeOpenAI, mixed_run: Path) -> None:
    """The control for the test above: without --no-ai the same hook records the connection."""
    p, audit = _audited(tmp_path, ["diagnose", str(mixed_run)], {"SCALABLE_AI_ENDPOINT": server.url, "SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")})
    assert p.returncode == 0 and "socket.connect" in audit["events"] and audit["openai"]
    assert len(server.requests) == 1


def test_unconfigured_opens_no_socket_either(tmp_path: Path, mixed_run: Path) -> None:
    p, audit = _audited(tmp_path, ["diagnose", str(mixed_run)], {"SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")})
    assert p.returncode == 0 and audit == {"events": [], "openai": False}
