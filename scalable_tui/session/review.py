"""``ReviewSession``: a run directory read in slices, then tailed while it runs.

Headless (no Textual): the app runs ``ReviewSession.run`` in a thread worker
and renders each ``ViewModel`` it emits; a test drives it with a list as the
sink.  The session owns the source (``RunDirReader`` or anything with
``load()``, ``refresh()`` and ``state``); after each change it diagnoses
through the pipeline and emits a view model with private copies of the data.
"""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any, Callable, Protocol

from scalable_tui.model.bulk import gc_paused
from scalable_tui.model.diagnosis import Diagnosis
from scalable_tui.model.run import RunState
from scalable_tui.session.pipeline import diagnose, diagnose_cached
from scalable_tui.session.snapshot import build_snapshot
from scalable_tui.session.view import Capabilities, ViewModel

__all__ = ["FIRST_SLICE", "LOADING_SLICE", "PAINT_WAIT", "PROGRESS_EVERY", "PUBLISH_PAUSE", "ReviewSession", "RunSource",
           "refresh_slice"]

#: Bytes per stream in the first slice of a large run: small, so the first
#: screen is up in a blink.  The rest is read in one go that only reports
#: progress (building a snapshot per slice, copies of the task table, made the
#: whole load seconds slower on a 300k-task run), so that the reader may split
#: its task events across two processes.
FIRST_SLICE = 1 << 20
#: Sources whose ``refresh`` takes no ``progress`` hook read the rest in slices of this size.
LOADING_SLICE = 32 << 20
#: How often the rest of a load reports its progress (the status line's "indexing… N%").
PROGRESS_EVERY = 0.1
#: While tailing, the pause after a publish is at least this many times what the publish cost: a
#: 300k-task run being written costs ~0.6 s a publish (snapshot copy, counts, diagnosis), and a
#: publish every second kept a core busy all night.
PUBLISH_PAUSE = 3.0
#: The longest the index store waits for the UI to paint the full view (``ReviewSession.painted``).
PAINT_WAIT = 2.0


class RunSource(Protocol):
    state: Any

    def load(self) -> Any: ...

    def refresh(self) -> Any: ...


def _takes(method: Any, name: str) -> bool:
    """Does ``method`` take the keyword ``name``?  From its signature (not by catching ``TypeError``: see
    ``refresh_slice``); a method that cannot be introspected is called plainly."""
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _reporter(source: Any, progress: Callable[[float], None], cancelled: threading.Event) -> Callable[[], bool]:
    """The reader's per-chunk hook: progress at most every ``PROGRESS_EVERY`` s; False stops the read."""
    last = time.monotonic()

    def hook() -> bool:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            progress(source.progress_now())
        return not cancelled.is_set()

    return hook


def refresh_slice(source: Any, max_bytes: int) -> Any:
    """One sliced refresh, or None for sources whose ``refresh`` takes no ``max_bytes``.

    Decided from the signature, not by catching ``TypeError``: a TypeError
    raised inside a reader is a bug to show, not "no slicing support" (it
    used to be swallowed and the run read again without a word).
    """
    return source.refresh(max_bytes=max_bytes) if _takes(source.refresh, "max_bytes") else None


class ReviewSession:
    """One run directory: load (sliced when large), diagnose, tail while ``run.json`` says running."""

    caps = Capabilities(live=False, has_jobs=False, has_timeline=False, has_workers=True)

    def __init__(
        self,
        source: RunSource,
        *,
        stale_after_s: float | None = None,
        slurm: str = "off",
        now: Callable[[], float] = time.time,
        poll_interval: float = 1.0,
    ) -> None:
        self.source = source
        self.stale_after_s = stale_after_s
        #: Join Slurm accounting for runs made on Slurm: "auto", "force" or "off".
        self.slurm = slurm
        self.now = now
        self.poll_interval = poll_interval
        #: The last snapshot published (what the screens show).
        self.shown: Any = None
        #: Measures what a publish costs (``PUBLISH_PAUSE``); injectable for tests.
        self.clock: Callable[[], float] = time.monotonic
        #: Set by a UI once it has painted the run's full view: the persistent-index store (~0.3-0.5 s of
        #: the interpreter on a 300k-task run) waits for it, at most ``PAINT_WAIT`` s. None (headless): no wait.
        self.painted: threading.Event | None = None

    def run(
        self,
        emit: Callable[[ViewModel], None],
        progress: Callable[[float], None] = lambda fraction: None,
        cancelled: threading.Event | None = None,
    ) -> None:
        """Read and tail until finished or ``cancelled``; exceptions go to the caller (shown there)."""
        from scalable_tui.session.slurm_join import SlurmJoin, slurm_join

        cancelled = cancelled or threading.Event()
        source = self.source
        if hasattr(source, "defer_index"):
            source.defer_index = True  # stored below, once the full screen is out
        version = 0
        diag: Diagnosis | None = None
        base_diag: Diagnosis | None = None  # the assistant's part of ``diag`` (cached beside the index)
        slurm_joined: SlurmJoin | None = None
        slurm_at = 0.0

        def publish(state: RunState, loading: float | None) -> None:
            nonlocal version, diag, base_diag, slurm_joined, slurm_at
            version += 1
            now = self.now()
            # While indexing, the first slice's diagnosis stands in (the
            # screen says "indexing…"); the full one comes with the last slice.
            if loading is None or diag is None:
                if loading is None and self.slurm != "off":
                    # One sacct call per load, then at most every 5 minutes while tailing.
                    if slurm_joined is None or time.monotonic() - slurm_at > 300:
                        slurm_joined, slurm_at = slurm_join(state, self.slurm), time.monotonic()
                base_diag = diagnose_cached(state, stale_after_s=self.stale_after_s, now=now, store=loading is None)
                diag = diagnose(state, stale_after_s=self.stale_after_s, now=now,
                                joined=slurm_joined if loading is None else None, base=base_diag)
            # A finished run, fully read: the reader stops right after this
            # publish, so the snapshot may share its tables.
            final = loading is None and state.meta.status != "running"
            overview = None
            if final:  # a reopen: the bars and timelines as stored beside the index (0.3-0.4 s of counting)
                from scalable_tui.session import overview_cache

                overview = overview_cache.lookup(state)
            snap = build_snapshot(state, diag, version, stale_after_s=self.stale_after_s, now=now, loading=loading,
                                  final=final, overview=overview)
            self.shown = snap
            emit(ViewModel(caps=self.caps, run=snap, subtitle=snap.run_id))

        # A large run: the first screen shows after a small first slice
        # ("indexing…") and fills in when the rest has been read.
        res = refresh_slice(source, FIRST_SLICE)
        if res is not None and res.more and not cancelled.is_set():
            publish(source.state, res.progress)
            # The reader pauses the cyclic GC per refresh; between slices a
            # full collection would scan the growing state again and again
            # (about a second on a 300k-task run), so keep it paused
            # until the run is read.
            with gc_paused():
                if _takes(source.refresh, "progress") and hasattr(source, "progress_now"):
                    # the rest in one read (its task events split across two processes), reporting as it goes
                    res = source.refresh(progress=_reporter(source, progress, cancelled))
                    progress(res.progress)
                while res.more and not cancelled.is_set():
                    res = source.refresh(max_bytes=LOADING_SLICE)
                    progress(res.progress)
        if res is None:
            source.load()
        changed = True
        while not cancelled.is_set():
            state = source.state
            cost = 0.0
            if changed:
                t0 = self.clock()
                publish(state, None)
                cost = self.clock() - t0
            if state.meta.status != "running":
                store = getattr(source, "store_in_index", None)
                if store is not None:
                    self._wait_painted(cancelled)
                    store()  # after the screen has everything: the next open is instant
                    if base_diag is not None:  # and its diagnosis beside it, now that the entry exists
                        from scalable_tui.session.diagnosis_cache import store as store_diagnosis

                        store_diagnosis(state, self.stale_after_s, base_diag)
                    shown = self.shown
                    if shown is not None and shown.tasks is state.tasks:  # and the final publish's bars
                        from scalable_tui.session import overview_cache

                        overview_cache.store(state, overview_cache.of_snapshot(shown))
                break  # finished: nothing more will be appended
            if cancelled.wait(max(self.poll_interval, PUBLISH_PAUSE * cost)):
                break
            changed = source.refresh().changed or self.threshold_passed(state, diag)

    def _wait_painted(self, cancelled: threading.Event) -> None:
        painted = self.painted
        deadline = time.monotonic() + PAINT_WAIT
        while painted is not None and not painted.is_set() and not cancelled.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            painted.wait(min(left, 0.05))

    def efficiency(self) -> Any:
        """Requested vs used for the run as last shown (``session.efficiency``); reads resources.jsonl again."""
        from scalable_tui.session.efficiency import run_efficiency, snapshot_state

        snap = self.shown
        if snap is None:
            raise RuntimeError("the run is not loaded yet")
        return run_efficiency(snapshot_state(snap), snap.run_dir, slurm=self.slurm, diagnosis=snap.diagnosis)

    def threshold_passed(self, state: RunState, diag: Diagnosis | None) -> bool:
        """Has the clock alone changed the diagnosis?  (A quiet "running" run became abandoned.)

        The tail re-diagnoses on new data only; a run that stops writing never
        brings new data, so without this its ``run_abandoned`` finding would never
        show.  Cheap: timestamps only, no re-diagnosis unless the answer flips.
        """
        if diag is None or state.meta.status != "running":
            return False
        from assistant.abandoned import abandoned_info

        return abandoned_info(state, self.stale_after_s, self.now())[0] != diag.abandoned
