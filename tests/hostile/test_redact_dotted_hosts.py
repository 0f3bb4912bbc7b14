"""Dotted host names with no digit, hyphen or known TLD (``frontier.olcf``, ``summit.ccs.ornl``) are redacted
where only a host can stand; Python dotted names in tracebacks stay readable.

Before, such a name was caught only after a word like host/ssh/connect: ``could not reach
frontier.olcf:8786``, ``psql -h summit.ccs.ornl``, ``//fileserver.olcf/share`` reached the prompt.
Same style as the secret corpus (tests/llm/data/secrets.json): each shape in the context line where it
shows up, embedded the hostile ways, the payload built as ``diagnose --show-prompt`` builds it.
"""

from __future__ import annotations

import random
import time

import pytest

from assistant.llm.redact import Redactor
from tests.llm.test_secret_corpus import (
    EMBEDDINGS,
    diagnosis_of,
    embed,
    finding_like_diagnose,
    leaked,
    prompt_for,
    sent_text,
)

HOSTS: list[dict[str, str]] = [
    {"kind": "host-port", "context": "ConnectionRefusedError: could not reach {secret}:8786", "secret": "frontier.olcf"},
    {"kind": "host-port-https", "context": "ssl.SSLError: handshake with {secret}:443 failed", "secret": "summit.ccs.ornl"},
    {"kind": "host-option-h", "context": "Command 'psql -h {secret} -U gcam runs' returned 2", "secret": "dbmain.ccs.ornl"},
    {"kind": "host-option-jump", "context": "ssh -J {secret} compute failed", "secret": "login.frontier.olcf"},
    {"kind": "host-option-long", "context": "dask worker --host={secret} exited", "secret": "andes.olcf"},
    {"kind": "slash-host", "context": "OSError: mount //{secret}/share failed", "secret": "fileserver.olcf"},
    {"kind": "unc-host", "context": "FileNotFoundError: \\\\{secret}\\share\\x.nc", "secret": "storagebox.ornl"},
    {"kind": "user-at-dotted", "context": "scp out.nc kwhit@{secret}:/lustre/x failed", "secret": "perlmutter.nersc"},
]

#: Python dotted names as tracebacks and Dask messages print them: never redacted.
PYTHON_TEXT = [
    "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 3.20 GiB",
    "AttributeError: module 'os.path' has no attribute 'joinx'",
    "    result = self.client.submit(run_gcam, x)",
    '  File "/opt/conda/lib/python3.11/site-packages/distributed/worker.py", line 2201, in execute',
    "from gcam.io.reader import load",
    "ModuleNotFoundError: No module named 'gcam.readers'",
    "x = a // b.c",
    "logging.handlers:SysLogHandler",
    "see distributed.comm.timeouts.connect: 30s",
    "python -h model.py",
    "KeyError: 'scenario.region'",
    "pandas.errors.ParserError: Error tokenizing data. C error: Expected 3 fields in line 12, saw 4",
    "gcam_runner.io:212 warning",
    "concurrent.futures._base.CancelledError: run_gcam-402063bf9c1d4e5f8a7b6c5d4e3f2a1b",
]


def _line(e: dict[str, str]) -> str:
    return e["context"].replace("{secret}", e["secret"])


@pytest.mark.parametrize("entry", HOSTS, ids=[e["kind"] for e in HOSTS])
def test_dotted_host_in_a_host_position_is_redacted(entry: dict[str, str]) -> None:
    out = Redactor(local_identity=False).redact(_line(entry))
    assert not leaked(entry, out), out
    assert "<host-1>" in out or "<email-1>" in out, out


@pytest.mark.parametrize("text", PYTHON_TEXT)
def test_python_dotted_names_stay_readable(text: str) -> None:
    assert Redactor(local_identity=False).redact(text) == text


def test_a_traceback_keeps_its_module_names_and_loses_the_host() -> None:
    tb = ("Traceback (most recent call last):\n"
          '  File "/opt/conda/lib/python3.11/site-packages/distributed/comm/tcp.py", line 546, in connect\n'
          "    stream = await self.client.connect(ip, port, max_buffer_size=MAX_BUFFER_SIZE)\n"
          "tornado.iostream.StreamClosedError: Stream is closed\n"
          "OSError: Timed out trying to connect to frontier.olcf:8786 after 30 s\n")
    out = Redactor(local_identity=False).redact(tb)
    assert "frontier.olcf" not in out and "<host-1>:8786" in out
    for kept in ("distributed/comm/tcp.py", "self.client.connect", "tornado.iostream.StreamClosedError"):
        assert kept in out


@pytest.mark.parametrize("how", EMBEDDINGS)
@pytest.mark.parametrize("entry", HOSTS, ids=[e["kind"] for e in HOSTS])
def test_no_dotted_host_reaches_the_prompt(entry: dict[str, str], how: str) -> None:
    for seed in range(3):
        message, tb = embed(entry, how, random.Random(seed), 40 * seed)
        text = sent_text(prompt_for(diagnosis_of(finding_like_diagnose(message, tb))))
        assert not leaked(entry, text), (entry["kind"], how, seed, text[-2000:])


@pytest.mark.parametrize("unit", ["a.a:1", "a.a:12 ", "//a.a", "\\\\a.a", "-h a.a.", "--host=a.", "a-a.a-a:99:"])
def test_new_host_rules_are_linear(unit: str) -> None:
    r = Redactor(local_identity=False)

    def timed(text: str) -> float:
        t = time.perf_counter()
        r.redact(text)
        return time.perf_counter() - t

    small, big = unit * (20_000 // len(unit)), unit * (80_000 // len(unit))
    t_small = min(timed(small) for _ in range(2))
    assert timed(big) < 10 * t_small + 0.3
