"""A resources.jsonl record without a timestamp (a collector's observation) must not crash the reader."""

from __future__ import annotations

import json

from scalable_tui.sources.rundir.observed import read_observed
from scalable_tui.sources.rundir.reader import load_run


def test_resource_line_without_timestamp_is_read(run_copy) -> None:
    run = run_copy("mixed-failures")
    first = json.loads((run / "resources.jsonl").read_text().splitlines()[0])
    rec = {k: v for k, v in first.items() if k != "timestamp"} | {"observed_memory_gb": 1.5, "observed_cpu": 0.5,
                                                                   "requested_memory": "12G"}
    old = (run / "resources.jsonl").read_text()
    (run / "resources.jsonl").write_text(old + json.dumps(rec, sort_keys=True) + "\n")
    # first in its file too: nothing earlier in the same read fills the reader's per-line variables
    (run / "resources.jsonl").write_text(json.dumps(rec, sort_keys=True) + "\n" + old + json.dumps(rec, sort_keys=True) + "\n")
    state = load_run(run)  # UnboundLocalError ('tsb') before the fix
    assert state.resources_for(first["entity_id"]).requested_memory == "12G"
    assert read_observed(run).memory_gb == {first["entity_id"]: 1.5}
