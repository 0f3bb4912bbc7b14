"""Slurm's memory of ended jobs: final states and exit codes (``sacct``, or ``scontrol`` without accounting).

``SacctFacts`` is mixed into ``SlurmSource`` (``slurm.py``): ``_final_facts``
completes the jobs a poll saw end or vanish (one sacct call; remembered when
accounting is off), ``history`` lists a finished run's jobs for ``review``.
"""

from __future__ import annotations

import re
import time

from scalable_tui.model.jobs import Job, JobsSnapshot
from scalable_tui.sources.jobs.base import _classify_failure, _job_sort_key
from scalable_tui.sources.jobs.slurm_parse import SACCT_FORMAT, base_state, parse_sacct, parse_scontrol_job

__all__ = ["SacctFacts"]

_ACCT_OFF = re.compile(r"accounting storage is disabled|slurmdbd|Connection refused|"
                       r"Problem talking to the database|not running a supported accounting_storage|"
                       r"Unable to contact|No such file", re.I)


class SacctFacts:
    """Final facts and history from accounting (a mixin of ``SlurmSource``)."""

    def _final_facts(self, snap: JobsSnapshot) -> None:
        """sacct (one call) for ended or vanished jobs; scontrol for exit codes when there is no accounting."""
        need = [j for j in self._jobs.values() if (j.is_final or j.gone) and j.job_id not in self._final]
        if not need:
            return
        if self.accounting is not False:
            ids = sorted({j.job_id.split("+")[0] for j in need})
            for j in need:
                self._sacct_tries[j.job_id] = self._sacct_tries.get(j.job_id, 0) + 1
            # no --noconvert here: it prints MaxRSS as bare bytes but ReqMem with a unit
            argv = ["sacct", "-n", "-P", "-j", ",".join(ids), "-o", SACCT_FORMAT]
            res = self.run(argv, self.timeout_s)
            snap.commands.append(" ".join(argv[:6]) + " …")
            if res.ok:
                self.accounting = True
                got, bad = parse_sacct(res.stdout)
                snap.parse_errors += bad
                for jid, acct in got.items():
                    cur = self._jobs.get(jid)
                    if cur is None:
                        continue
                    _apply_sacct(cur, acct)
                    if cur.is_final:
                        self._final.add(jid)
                for j in need:  # accounting never heard of it (or still lags) after several polls
                    if self._sacct_tries.get(j.job_id, 0) >= 5 and j.job_id not in self._final:
                        self._final.add(j.job_id)
            elif res.missing or (res.returncode not in (None, 0) and _ACCT_OFF.search(res.stderr + res.stdout)):
                self.accounting = False
            # a timeout is transient: ask again next poll
        if self.accounting is False:
            budget = 16
            for job in need:
                if job.job_id in self._final or job.gone or budget <= 0:
                    if job.gone and job.job_id not in self._final:
                        self._final.add(job.job_id)  # nothing more to learn without accounting
                    continue
                budget -= 1
                res = self.run(["scontrol", "-o", "show", "job", job.job_id], self.timeout_s)
                if res.ok:
                    kv = parse_scontrol_job(res.stdout)
                    if kv.get("ExitCode"):
                        job.exit_code = kv["ExitCode"]
                    if kv.get("JobState"):
                        job.state = base_state(kv["JobState"])
                    job.source = "scontrol"
                    self._final.add(job.job_id)
                elif res.returncode not in (None, 0):
                    self._final.add(job.job_id)  # purged: nothing more to learn

    def history(self, start: float, end: float | None = None) -> JobsSnapshot:
        """The user's jobs (name filter applies) between ``start`` and ``end`` (epoch s), from sacct.

        For ``review`` of a finished run: one sacct call over the run's time window, so job ids
        need not be known.  Without accounting: ``accounting=False`` and no jobs, not an error.
        """
        now = self.clock()
        t0 = time.monotonic()
        snap = JobsSnapshot(polled_at=now, scheduler="slurm")
        fmt = "%Y-%m-%dT%H:%M:%S"
        argv = ["sacct", "-n", "-P", "-u", self.user, "-S", time.strftime(fmt, time.localtime(start)),
                "-E", time.strftime(fmt, time.localtime(end if end is not None else now)), "-o", SACCT_FORMAT]
        if self.names:
            argv.append("--name=" + ",".join(self.names))
        res = self.run(argv, self.timeout_s)
        snap.commands.append(" ".join(argv))
        if not res.ok:
            if res.missing or (res.returncode not in (None, 0) and _ACCT_OFF.search(res.stderr + res.stdout)):
                self.accounting = False
                snap.message = "no accounting (sacct): " + res.error_text()
            else:
                snap.status, snap.message = _classify_failure(res)
        else:
            self.accounting = True
            got, snap.parse_errors = parse_sacct(res.stdout)
            for job in got.values():
                job.first_seen = job.last_seen = now
                self._names_from_job(job)
            if self.log_scanner is not None:
                for jid, log in self.log_scanner.scan(set(got)).items():
                    if jid in got and not got[jid].worker_names and log.worker_names:
                        self._set_names(got[jid], log.worker_names, "log")
            snap.jobs = sorted(got.values(), key=_job_sort_key)
            snap.last_ok = now
        snap.accounting = self.accounting
        snap.poll_duration_s = time.monotonic() - t0
        return snap


def _apply_sacct(cur: Job, acct: Job) -> None:
    if acct.is_final or cur.gone:
        cur.state, cur.raw_state = acct.state, acct.raw_state
        cur.reason = acct.reason or cur.reason
    cur.exit_code = acct.exit_code or cur.exit_code
    cur.max_rss_mb = acct.max_rss_mb if acct.max_rss_mb is not None else cur.max_rss_mb
    cur.step_states = acct.step_states or cur.step_states
    for attr in ("elapsed_s", "end_time", "start_time", "node", "time_limit_s", "total_cpu_s"):
        if getattr(acct, attr) is not None and (cur.gone or getattr(cur, attr) is None):
            setattr(cur, attr, getattr(acct, attr))
    if cur.is_final:
        cur.time_left_s = None
    cur.source = "sacct"
