"""Fixtures for the LLM tests: the loopback OpenAI-compatible server, a private cache dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import fixture_run
from tests.llm.fakeserver import FakeOpenAI

# One value of every kind that must never leave the machine.
SECRETS = {
    "url_password": "hunter2pass",
    "url_user": "bobthebuilder",
    "token_param": "tok3nValue9876",
    "password_param": "Pa55w0rd-xyz",
    "secret_param": "sup3rs3cr3tvalue",
    "key_param": "k3yv4lue777",
    "bearer": "bearerTokenABCdef1234567890",
    "openai": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123456789",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "github_pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "slack": "xoxb-123456789012-abcdefABCDEF",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "pem_body": "MIIEowIBAAKCAQEAxsecretpembody",
    "entropy": "Zx8Kq2LmN4pR7sT1vW3yB6dF9gH0jJ5k",
    "email": "dave.doe@corp-mail.example.com",
    "home_user": "alicehpc",
    "mac_user": "carolmac",
    "ip": "10.23.45.67",
    "ipv6": "fe80::1ff:fe23:4567:890a",
    "host": "gpu-box17.cluster.example.org",
    "node": "nid004242",
}

SECRET_TRACEBACK = f"""Traceback (most recent call last):
  File "/home/{SECRETS['home_user']}/gcam/run.py", line 12, in main
    fetch("https://{SECRETS['url_user']}:{SECRETS['url_password']}@data.example.org/x?token={SECRETS['token_param']}&key={SECRETS['key_param']}")
  File "/Users/{SECRETS['mac_user']}/lib/fetch.py", line 40, in fetch
    raise_for_status(headers={{"Authorization": "Bearer {SECRETS['bearer']}"}})
  File "/home/{SECRETS['home_user']}/gcam/http.py", line 7, in raise_for_status
    raise PermissionError(msg)
PermissionError: 401 from {SECRETS['host']} ({SECRETS['ip']}, {SECRETS['ipv6']}) on {SECRETS['node']}: password={SECRETS['password_param']} secret: {SECRETS['secret_param']} keys {SECRETS['openai']} {SECRETS['aws']} {SECRETS['github']} {SECRETS['github_pat']} {SECRETS['slack']} jwt {SECRETS['jwt']} blob {SECRETS['entropy']} mail {SECRETS['email']}
-----BEGIN RSA PRIVATE KEY-----
{SECRETS['pem_body']}
-----END RSA PRIVATE KEY-----
"""


def plant_secrets(run: Path) -> None:
    """Add failures whose messages and tracebacks carry the secret set (twice, for consistency)."""
    lines = (run / "failures.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    extra = []
    for i in range(2):
        rec = dict(first)
        rec["failure_class"] = "PermissionError"
        rec["message"] = f"401 from {SECRETS['host']} ({SECRETS['ip']}) for {SECRETS['email']} token={SECRETS['token_param']}"
        rec["details"] = {"phase": "task_execution", "traceback": SECRET_TRACEBACK, "worker_id": f"tcp://{SECRETS['ip']}:4{i}901"}
        rec["task_id"] = f"feedface{i:024d}"
        extra.append(json.dumps(rec))
    (run / "failures.jsonl").write_text("\n".join(lines + extra) + "\n")


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI()
    yield srv
    srv.close()


@pytest.fixture
def server(fake_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache dir, and no AI settings leak in from the environment."""
    d = tmp_path / "cache"
    monkeypatch.setenv("SCALABLE_TUI_CACHE_DIR", str(d))
    for k in ("SCALABLE_AI_ENDPOINT", "SCALABLE_AI_MODEL", "SCALABLE_AI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY",
              "SCALABLE_TUI_REDACT_RULES"):
        monkeypatch.delenv(k, raising=False)
    return d


@pytest.fixture
def mixed_run() -> Path:
    return fixture_run("mixed-failures")


@pytest.fixture
def tutorial_run() -> Path:
    return fixture_run("tutorial-tracebacks")
