"""The comparison in text, Markdown and JSON: untrusted titles and run ids from PREV are shown literally."""

from __future__ import annotations

import json

from assistant.compare import compare
from assistant.render import render_markdown, render_text, to_json
from scalable_tui.session import diagnose_run
from tests.conftest import fixture_run

EVIL = "evil\x1b[2J\x1b]0;pwned\x07 **b** [x](http://e.invalid)"


def test_resolved_titles_and_previous_run_id_are_made_safe() -> None:
    cur = diagnose_run(fixture_run("corrupt-lines"))
    prev = diagnose_run(fixture_run("mixed-failures"))
    prev.run_id = "run-prev" + EVIL
    for f in prev.findings:
        f.title = "gone " + EVIL
    out = compare(cur, prev)
    assert out.resolved and all(f.title.startswith("gone ") for f in out.resolved)
    text = render_text(out, width=400)
    md = render_markdown(out)
    js = to_json(out)
    for s in (text, md, js):
        assert "\x1b" not in s and "\x07" not in s
    assert "✓ resolved: gone evil" in text and "since run-prevevil" in text
    assert "](http" not in md and "**b**" not in md
    doc = json.loads(js)
    assert doc["comparison"]["resolved"] == len(doc["resolved"]) == len(out.resolved)
    # The top line counts what the findings say.
    trends = [f["trend"] for f in doc["findings"]]
    assert doc["comparison"]["new"] == trends.count("new") and doc["comparison"]["recurring"] == trends.count("recurring")
