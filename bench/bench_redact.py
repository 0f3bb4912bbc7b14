"""Cost of building the AI payload (redaction included) on hostile field sizes.

Every regex of the redactor sees untrusted text.  Fields are bounded at a
token boundary before matching and the rules use bounded repeats, so the cost
should grow linearly and stay small even for a 10 MB message or traceback.
Prints, per input shape: redaction time at 20k and 80k characters (and their
ratio: ~4 means linear) and the build_prompt time for a 10 MB field.

    python bench/bench_redact.py

Always exits 0 (it reports; CI does not gate on timings of a shared box).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.llm.config import AIConfig  # noqa: E402
from assistant.llm.payload import build_prompt  # noqa: E402
from assistant.llm.redact import Redactor  # noqa: E402
from scalable_tui.model.diagnosis import Diagnosis, Finding  # noqa: E402

SHAPES: dict[str, Callable[[int], str]] = {
    "long word": lambda n: "a" * n,
    "a.a.a.": lambda n: "a." * (n // 2),
    "a-1.a-1.": lambda n: "a-1." * (n // 4),
    "password=…": lambda n: "password=" * (n // 9),
    "a@a@": lambda n: "a@" * (n // 2),
    "base64-ish": lambda n: "Zx8Kq2LmN4pR7sT1vW3yB6dF9gH0jJ5k" * (n // 32),
    "a\\na\\n": lambda n: "a\n" * (n // 2),
    "words": lambda n: "token value for host node042 " * (n // 29),
}


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    r = Redactor()
    cfg = AIConfig(endpoint="http://127.0.0.1:9/v1")
    print(f"{'shape':14s} {'20k chars':>10s} {'80k chars':>10s} {'ratio':>6s} {'10 MB build_prompt':>19s}")
    for name, make in SHAPES.items():
        a = timed(lambda: r.redact(make(20_000)))
        b = timed(lambda: r.redact(make(80_000)))
        big = make(10_000_000)
        f = Finding(id="s1-x", category="user_code", severity="error", title=big[:500], count=1, exception_types=["E"],
                    pattern=big[:300], suggestion=big[:1000], example_message=big[:2000],
                    example_traceback="Traceback (most recent call last):\n" + big)
        d = Diagnosis(run_id="r", run_dir="/r", status="failed", summary="s", failures_total=1, tasks={"failed": 1},
                      tasks_total=1, findings=[f], signature_version=1)
        c = timed(lambda: build_prompt(d, None, cfg))
        print(f"{name:14s} {a * 1000:8.1f}ms {b * 1000:8.1f}ms {b / max(a, 1e-9):6.1f} {c * 1000:17.1f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
