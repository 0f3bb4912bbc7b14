"""tools/slurm never touches a Slurm (or any process) it did not start; no Slurm needed.

A stand-in daemon is a copy of ``sleep`` named like a Slurm daemon, so that
``/proc/PID/comm`` reads ``slurmctld`` exactly as for the real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "slurm"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def daemon(tmp_path: Path, name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    exe = tmp_path / "bin" / name
    exe.parent.mkdir(exist_ok=True)
    if not exe.exists():
        shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    return subprocess.Popen([str(exe), "30"], env={**os.environ, **(env or {})})


def bash(s_dir: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f'set -euo pipefail; S={s_dir}; . {TOOLS}/common.sh; {script}'],
                          capture_output=True, text=True, timeout=30)


def test_a_daemon_is_ours_only_when_it_names_our_directory(tmp_path: Path) -> None:
    s_dir = tmp_path / "slurmd-dir"
    foreign = daemon(tmp_path, "slurmctld")
    # like slurmdbd started by start.sh: its environment names our config (SLURM_CONF=$S/etc/slurm.conf)
    mine = daemon(tmp_path, "slurmctld", {"SLURM_CONF": f"{s_dir}/etc/slurm.conf"})
    try:
        out = bash(s_dir, "foreign_daemons slurmctld slurmd")
        assert f"slurmctld pid {foreign.pid}" in out.stdout, out
        assert f"pid {mine.pid}" not in out.stdout
        # under pipefail too (an early `grep -q` exit must not make our own daemon look foreign)
        assert bash(s_dir, f"ours {mine.pid}").returncode == 0
        assert bash(s_dir, f"ours {foreign.pid}").returncode != 0
    finally:
        for p in (foreign, mine):
            p.kill()
            p.wait()


def test_stop_leaves_a_process_it_did_not_start_alone(tmp_path: Path) -> None:
    s_dir = tmp_path / "slurmd-dir"
    (s_dir / "run").mkdir(parents=True)
    other = daemon(tmp_path, "slurmctld")  # someone else's: its pid ended up in our pid file
    for f in (s_dir / "run" / "slurmctld.pid", s_dir / "slurmctld.pid"):  # this layout's and the earlier one's
        f.write_text(f"{other.pid}\n")
    try:
        env = {**os.environ, "SLURM_TMP": str(s_dir)}
        out = subprocess.run([str(TOOLS / "stop.sh")], capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0
        assert other.poll() is None, "stop.sh killed a process it did not start"
        assert "not stopping slurmctld" in out.stderr and "not started by tools/slurm/start.sh" in out.stderr
    finally:
        other.kill()
        other.wait()


def test_the_tools_never_cancel_by_user_or_write_system_config() -> None:
    import re

    code = "\n".join(ln for p in TOOLS.iterdir() if p.is_file() for ln in p.read_text().splitlines()
                     if not ln.lstrip().startswith("#"))
    assert not re.search(r"scancel[^\n]*(--user|\s-u\b|--name)", code)
    assert not re.search(r">\s*\"?/etc/", code) and "/run/munge" not in code and "/run/mysqld" not in code
    for p in (ROOT / "tests" / "slurm").glob("*.py"):
        assert not re.search(r"\"scancel\",\s*f?\"--(user|name)", p.read_text()), p
