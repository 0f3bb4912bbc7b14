"""Failure categories as data: which signals mean what, and what to do about it.

A rule matches on exception type names and/or regular expressions over the
message, traceback and details of a failure.  Rules are tried in table order
and the first match wins, so specific rules (``gpu_oom``) come before
general ones (``oom``) and the catch-all ``user_code`` is last.  To add a
signal, add a pattern to a rule; to add a category, add a row here and a
suggestion template in ``SUGGESTIONS``.  Tests iterate over this table.
"""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

try:  # the regex parser: Python 3.11+ names it re._parser, older versions sre_parse
    from re import _constants as _c, _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

CATEGORIES = (
    "oom",
    "worker_memory",
    "gpu_oom",
    "worker_lost",
    "walltime",
    "preemption",
    "network",
    "timeout",
    "import_error",
    "missing_file",
    "permission",
    "disk_full",
    "serialization",
    "segfault",
    "cluster_startup",
    "graph_deserialization",
    "invalid_input",
    "user_code",
    "run_abandoned",
)

SEVERITIES = ("critical", "error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    severity: str
    #: May a plain retry help?  ``None`` when it depends.
    transient: bool | None
    title: str
    #: Exception class names (last dotted part) that match on their own.
    types: frozenset[str] = frozenset()
    #: Regexes searched in "type: message", the traceback and the details.
    patterns: tuple[str, ...] = ()
    #: Only match failures of these ``details.phase`` values (session-level).
    phases: frozenset[str] = frozenset()
    #: All patterns as one alternation: one regex search per rule and failure.
    compiled: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    #: The patterns other than the line-anchored ones (``_then``), for the evidence text.
    plain: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    #: Each line-anchored pattern on its own, when a rule has several.
    thens: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)
    #: Per pattern: lower-case strings one of which its every match contains (None: not
    #: known), so on an ASCII text only the patterns that can match are searched.
    literals: tuple[tuple[str, ...] | None, ...] = field(default=(), compare=False, repr=False)
    #: Per pattern: the bits (``literal_bits``) of its literals, or -1 when not known (always possible).
    masks: tuple[int, ...] = field(default=(), compare=False, repr=False)
    #: The bits of all this rule's literals: a text's literal mask, cut to these, decides the subset.
    union: int = field(default=0, compare=False, repr=False)
    #: The alternation of the patterns that can match, by the text's literal mask cut to ``union``.
    subsets: dict[int, re.Pattern[str] | None] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.patterns:
            object.__setattr__(self, "compiled", re.compile("|".join(f"(?:{p})" for p in self.patterns), re.I))
            plain = [p for p in self.patterns if "(?P<" not in p]
            if len(plain) < len(self.patterns) and plain:
                object.__setattr__(self, "plain", re.compile("|".join(f"(?:{p})" for p in plain), re.I))
            thens = tuple(re.compile(p, re.I) for p in self.patterns if "(?P<" in p)
            object.__setattr__(self, "thens", thens if len(thens) > 1 else ())
            literals = tuple(required_literals((p,)) for p in self.patterns)
            masks = tuple(-1 if lits is None else literal_bits(lits) for lits in literals)
            object.__setattr__(self, "literals", literals)
            object.__setattr__(self, "masks", masks)
            object.__setattr__(self, "union", functools.reduce(operator.or_, (m for m in masks if m >= 0), 0))

    def match(self, exc_types: tuple[str, ...], text: str, phase: str | None, present: int | None = None) -> str | None:
        """Return what matched (for the evidence), or None.

        ``present``: ``literal_mask`` of the lowered ASCII ``text`` (then a
        pattern none of whose literals occur cannot match and is not run).
        """
        if self.phases and phase not in self.phases:
            return None
        for t in exc_types:
            if t in self.types:
                return f"exception type {t}"
        rx = self.compiled if present is None else self._possible(present)
        if rx is not None:
            m = rx.search(text)
            if m:
                return f"'{self._evidence(m, text)[:80]}'"
        return None


    def _possible(self, present: int) -> re.Pattern[str] | None:
        """The alternation of the patterns that can match a text whose literal mask is ``present``.

        A pattern whose required literals are all absent matches nowhere in
        the text, so leaving it out of the alternation changes no match: at
        each position the remaining alternatives are tried in the same order.
        Which patterns remain depends only on ``present & union``: one dict
        lookup per rule and text once the subset has been met.
        """
        if self.compiled is None:
            return None
        key = present & self.union
        try:
            return self.subsets[key]
        except KeyError:
            which = [i for i, m in enumerate(self.masks) if m < 0 or m & key]
            if len(which) == len(self.patterns):
                rx: re.Pattern[str] | None = self.compiled
            else:
                rx = re.compile("|".join(f"(?:{self.patterns[i]})" for i in which), re.I) if which else None
            self.subsets[key] = rx
            return rx

    def _evidence(self, m: re.Match[str], text: str) -> str:
        """The leftmost match's text, as the plain patterns would give it.

        A line-anchored pattern (``_then``) matches from the line's start and
        names the part that is the evidence; another pattern of the rule may
        match before that part on the same line.
        """
        if not m.lastgroup:
            return m.group(0)
        start, best = m.start(m.lastgroup), m.group(m.lastgroup)
        for rx in self.thens:  # several on one line: the one whose evidence starts first
            m2 = rx.match(text, m.start())
            if m2 is not None and m2.lastgroup and m2.start(m2.lastgroup) < start:
                start, best = m2.start(m2.lastgroup), m2.group(m2.lastgroup)
        if self.plain is not None:
            m2 = self.plain.search(text, m.start())
            if m2 is not None and m2.start() < start:
                return m2.group(0)
        return best


def _needed(items: Any) -> frozenset[str] | None:
    """Strings (lower case) one of which every match of a parsed pattern contains; None if unknown.

    Only what the match consumes counts: consecutive literals, groups, atomic
    groups, repeats of at least one, alternations whose every branch has
    some.  Anything else (classes, assertions, anchors) only ends a run of
    literals, which keeps the answer a necessary condition.
    """
    best: frozenset[str] | None = None

    def consider(c: frozenset[str] | None) -> None:
        nonlocal best
        if c and (best is None or min(map(len, c)) > min(map(len, best))):
            best = c

    run: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            consider(frozenset({"".join(run).lower()}))
            run = []
        if op is _c.SUBPATTERN:
            consider(_needed(av[3]))
        elif op is _c.ATOMIC_GROUP:
            consider(_needed(av))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and av[0] >= 1:
            consider(_needed(av[2]))
        elif op is _c.BRANCH:
            alts = [_needed(b) for b in av[1]]
            if all(alts):
                consider(frozenset().union(*alts))  # type: ignore[arg-type]
    if run:
        consider(frozenset({"".join(run).lower()}))
    return best


#: Every literal a rule's pattern requires (``required_literals``), in the order first met; its bit is its index.
_LITERALS: list[str] = []
_LITERAL_BIT: dict[str, int] = {}


def literal_bits(literals: tuple[str, ...]) -> int:
    """The bits of ``literals`` (registered on first sight, so rules made later get bits too).

    Literal ``i`` is bit ``8 * i``: the layout of ``literal_mask``'s bytes.
    """
    mask = 0
    for lit in literals:
        bit = _LITERAL_BIT.get(lit)
        if bit is None:
            bit = _LITERAL_BIT[lit] = len(_LITERALS)
            _LITERALS.append(lit)
        mask |= 1 << (8 * bit)
    return mask


def literal_mask(lowered: str, literals: Sequence[str], shift: int = 0) -> int:
    """The bits of ``literals`` (registered ones from bit ``shift`` on) that occur in ``lowered``.

    In C (``map`` of ``str.__contains__`` into one byte per literal): cheaper
    than each rule looking for its own, and the rules then need one AND and
    one lookup.
    """
    return int.from_bytes(bytes(map(lowered.__contains__, literals)), "little") << shift


def required_literals(patterns: tuple[str, ...]) -> tuple[str, ...] | None:
    """Lower-case strings one of which any match of any of ``patterns`` contains (None: unknown).

    Sound for ASCII texts matched with ``re.I``: a case-insensitive match of
    an ASCII literal in an ASCII text is a case variant of it, so the lowered
    text contains the lowered literal.
    """
    out: set[str] = set()
    for p in patterns:
        need = _needed(_p.parse(p, re.I))
        if need is None:
            return None
        out |= need
    return tuple(sorted(out))


def _then(first: str, rest: str, name: str, middle: str = "") -> str:
    """``first.*rest`` (one line), in linear time on any input.

    The plain pattern is retried from every occurrence of ``first`` and scans
    to the end of the line each time: quadratic on a long line full of
    ``first``.  If the line's first occurrence has no ``rest`` after it, no
    later one has, so this tries only the first occurrence on each line (an
    atomic group) and matches the same text (group ``name``).  ``middle``
    (atomic too) must come between them: its first occurrence after
    ``first`` is the only one worth trying, for the same reason.
    """
    return rf"(?<![^\n])(?>[^\n]*?(?={first}))(?P<{name}>{first}{middle}[^\n]*{rest})"


R = Rule
RULES: tuple[Rule, ...] = (
    R("cluster_startup", "critical", None, "The cluster or session failed to start",
      patterns=(r".",), phases=frozenset({"session.start"})),
    R("cluster_startup", "critical", None, "Workers failed to start",
      patterns=(r"Nanny failed to start", r"Worker failed to start", r"failed to start (?:the )?(?:cluster|worker)",
                _then("Timed out trying to connect to ", r"\bscheduler\b", "t0", middle=r"(?>[^\n]*? after \d+ s)"),
                r"sbatch: error", r"Batch job submission failed", r"Invalid (?:account|partition|qos)")),
    # Before import_error and serialization: its cause is often "No module named …", but the fix is the scheduler's.
    R("graph_deserialization", "critical", False, "The scheduler could not deserialize a submitted task graph",
      patterns=(r"Error during deserialization of the task graph", r"could not be deserialized on the scheduler",
                r"Scheduler and Client have different environments")),
    R("gpu_oom", "error", False, "GPU out of memory",
      types=frozenset({"OutOfMemoryError"}),
      patterns=(r"CUDA out of memory", r"CUDA error: out of memory", r"cudaErrorMemoryAllocation",
                r"CUBLAS_STATUS_ALLOC_FAILED", r"RESOURCE_EXHAUSTED: Out of memory", r"out of memory on device")),
    R("walltime", "error", False, "Jobs hit their walltime",
      patterns=(r"DUE TO TIME LIMIT", r"(?-i:\bTIMEOUT\b)(?! *[:=])", r"(?-i:\bTimeLimit\b)", r"walltime (?:exceeded|limit)",
                r"job killed: walltime", r"exceeded (?:its|the) (?:time|wall ?clock) limit")),
    R("preemption", "warning", True, "Jobs were preempted",
      patterns=(r"DUE TO PREEMPTION", r"(?-i:\bPREEMPTED\b)", r"\bpreempt(?:ed|ion)\b", _then("spot instance ", "interrupt", "p0"))),
    R("worker_memory", "error", False, "Dask workers ran out of memory",
      patterns=(r"exceeded 9\d% memory budget", _then("Worker exceeded ", "memory", "m0"), r"memory budget",
                r"worker-restart-memory", _then("Restarting worker", "memory", "m1"), _then("KilledWorker", "memory", "m2"),
                r"Memory use is high but worker has no data")),
    R("oom", "error", False, "Out of memory",
      types=frozenset({"MemoryError", "_ArrayMemoryError"}),
      # Out of memory said in words is this category whatever the exception type (RuntimeError, OSError,
      # a batch system's own class): a fixed word sequence each, no nested quantifiers.
      patterns=(r"Unable to allocate", r"oom-kill event", r"(?-i:\bOUT_OF_MEMORY\b)", r"Out[ -]of[ -]memory", r"oom[_-]kill",
                r"\boom[ -]?killer\b", r"(?-i:\bOOM(?:Killed)?\b)", r"\bbad_alloc\b", r"Cannot allocate memory",
                r"\[Errno 12\]", r"MemoryError", r"\bexceed(?:ed|s|ing)? (?:the |its |job |step |task )?memory limit",
                r"\bmemory limit (?:was |has been )?exceeded", r"\bKilled ?[:(] ?memory\b")),
    R("segfault", "error", False, "A process crashed (segmentation fault)",
      patterns=(r"Segmentation fault", r"SIGSEGV", r"signal 11\b", r"killed by signal 11", r"core dumped",
                r"exit(?:ed)? (?:with )?(?:code|status) -11\b", r"Fatal Python error", r"SIGBUS", r"SIGABRT")),
    R("worker_lost", "error", None, "Workers died while running tasks",
      types=frozenset({"KilledWorker"}),
      patterns=(r"KilledWorker", r"workers? (?:have |has )?died", r"killed by signal 9\b", r"\bsignal[ -]9\b", r"SIGKILL",
                r"Lost all workers", r"(?-i:\bNODE_FAIL\b)", r"node fail(?:ure|ed)", _then("Worker ", " was (?:killed|lost)", "w0"),
                r"exit(?:ed)? (?:with )?(?:code|status) -9\b")),
    R("network", "warning", True, "Network or remote service errors",
      types=frozenset({"CommClosedError", "StreamClosedError", "ConnectionError", "ConnectionRefusedError",
                       "ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError", "ReadTimeout",
                       "ConnectTimeout", "ReadTimeoutError", "ConnectTimeoutError", "MaxRetryError",
                       "NewConnectionError", "SSLError", "ProtocolError", "RemoteDisconnected",
                       "ClientConnectorError", "ServerDisconnectedError", "gaierror", "HTTPError"}),
      patterns=(r"Connection refused", r"Connection reset", r"Read timed out", r"Connect(?:ion)? timed out",
                r"Name or service not known", r"Temporary failure in name resolution", r"Max retries exceeded",
                r"Network is unreachable", r"No route to host", r"\b50[234] (?:Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)",
                r"Timed out trying to connect", r"Stream is closed", r"\[Errno 11[013]\]", r"\[Errno 104\]")),
    R("timeout", "warning", True, "Operations timed out",
      types=frozenset({"TimeoutError", "TimeoutExpired", "CancelledError"}),
      patterns=(r"\btimed out\b", r"\btimeout\b", r"deadline exceeded")),
    R("import_error", "critical", False, "Missing module or library in the worker environment",
      types=frozenset({"ModuleNotFoundError", "ImportError"}),
      patterns=(r"No module named", r"cannot import name", r"undefined symbol", r"GLIBC_?[\d.]* not found",
                r"cannot open shared object file", r"DLL load failed")),
    R("disk_full", "critical", False, "Disk full or quota exceeded",
      patterns=(r"\[Errno 28\]", r"No space left on device", r"\[Errno 122\]", r"Disk quota exceeded", r"\bENOSPC\b",
                r"\bEDQUOT\b")),
    R("permission", "error", False, "Permission denied or read-only filesystem",
      types=frozenset({"PermissionError"}),
      patterns=(r"\[Errno 13\]", r"Permission denied", r"\[Errno 30\]", r"Read-only file system", r"\[Errno 1\]\s",
                r"Operation not permitted", r"\bEACCES\b", r"\bEROFS\b")),
    R("missing_file", "error", False, "Missing input file or directory",
      types=frozenset({"FileNotFoundError", "NotADirectoryError", "IsADirectoryError"}),
      patterns=(r"\[Errno 2\]", r"No such file or directory", r"\bENOENT\b", _then("(?:file|path|directory) ", " does not exist", "f0"))),
    R("serialization", "error", False, "Data or functions could not be serialized",
      types=frozenset({"PicklingError", "UnpicklingError"}),
      patterns=(r"pickl", r"Could not serialize", r"Could not deserialize", r"Failed to serialize",
                r"is not (?:JSON |msgpack )?serializable", r"cannot serialize")),
    R("invalid_input", "error", False, "Invalid or unexpected input data",
      types=frozenset({"ValueError", "KeyError", "IndexError", "JSONDecodeError", "UnicodeDecodeError",
                       "ParserError", "EmptyDataError", "ValidationError", "LookupError", "OverflowError"}),
      patterns=(r"\binvalid\b", r"\bmalformed\b", r"could not convert", r"unexpected (?:value|token|end)")),
    R("user_code", "error", False, "Errors in task code", patterns=(r"",)),
)

# Suggestion templates.  ``{…}`` names come from the finding's context
# (see ``assistant.suggest_context._context``); a missing value prints as "?", so a value that may be
# unknown (a live run has no component or target) comes as a ``*_ctx`` phrase that is empty then.
SUGGESTIONS: dict[str, str] = {
    "oom": (
        "Tasks ran out of memory{mem_ctx}. Raise the component's memory in the manifest"
        "{mem_next_ctx} (dask-jobqueue `memory=`), or use fewer threads per worker so each task gets more of it; "
        "if the data can be chunked, process it in smaller pieces. Check `distributed.worker.memory.target/spill` "
        "so Dask spills to disk before the process is killed."
    ),
    "worker_memory": (
        "Dask workers hit their memory limit and were restarted by the nanny{mem_ctx}. Give workers more memory"
        "{mem_next_ctx} or fewer threads each; tune `distributed.worker.memory.target`, `.spill`, `.pause` and "
        "`.terminate` (default 0.95); when running under Slurm keep Dask's memory_limit below the job's cgroup limit."
    ),
    "gpu_oom": (
        "The GPU ran out of memory. Reduce the batch size or model size per task, run one GPU task per worker "
        "(`resources={{'GPU': 1}}` and one thread per GPU worker), free cached memory between tasks, or request GPUs "
        "with more memory."
    ),
    "worker_lost": (
        "Workers died while running these tasks ({allowed_failures_ctx}). Look at the worker/nanny logs and the "
        "batch job's state: a kill at the memory limit (raise memory{mem_next_ctx}), a walltime kill (see walltime), or "
        "a crashing native library. Raise `distributed.scheduler.allowed-failures` only if the deaths are unrelated "
        "to the task itself."
    ),
    "walltime": (
        "Jobs were killed at their walltime{wall_ctx}. Request a longer walltime{wall_next_ctx} "
        "(dask-jobqueue `walltime=`), or let workers retire before the limit: "
        "`worker_extra_args=['--lifetime', '<walltime minus 5 min>', '--lifetime-stagger', '2m']` together with "
        "adaptive scaling (`cluster.adapt(...)`) so new jobs replace them."
    ),
    "preemption": (
        "Jobs were preempted by the scheduler. A retry is likely to work: requeue (`#SBATCH --requeue`), use a "
        "non-preemptible partition/QOS for long tasks, and checkpoint long-running tasks so restarts resume."
    ),
    "network": (
        "Transient network or remote-service errors. Retry these tasks (`client.submit(..., retries=2)`) with "
        "backoff, check the remote endpoint{host_ctx}, and raise `distributed.comm.timeouts.connect`/`tcp` if the "
        "cluster network is slow."
    ),
    "timeout": (
        "Operations timed out. If they talk to a remote service, retry with backoff; if they are slow computations "
        "raise the timeout in the task's code or split the work; for Dask comms see `distributed.comm.timeouts.*`."
    ),
    "import_error": (
        "A module or shared library is missing in the workers' environment{module_ctx}. Install it in the image or "
        "environment the workers use (container / conda env{component_ctx}), and check that the "
        "workers and the client run the same environment (`client.get_versions(check=True)`)."
    ),
    "missing_file": (
        "Input files or directories are missing{path_ctx}. Check that the path exists on the compute nodes (not "
        "only on the login node), that shared filesystems are mounted in the container, and that an upstream task "
        "that writes it succeeded."
    ),
    "permission": (
        "Permission denied or read-only filesystem{path_ctx}. Check ownership and group permissions of the output "
        "directory on the compute nodes, container bind mounts (read-only by default in some setups), and that "
        "the job runs as the expected user."
    ),
    "disk_full": (
        "A disk or quota is full{path_ctx}. Free space or raise the quota, write large outputs to scratch, and "
        "point Dask's spill directory (`temporary-directory`/`local_directory`) at node-local scratch."
    ),
    "serialization": (
        "Dask could not serialize a task's function, arguments or result. Return plain data (numbers, arrays, "
        "paths) instead of open files, locks, clients or lambdas, and create such objects inside the task."
    ),
    "segfault": (
        "A native library crashed the worker process. Check the compiled model / library version on the nodes "
        "(ABI, MPI, BLAS threads), its input data, and run one failing task locally under `faulthandler`."
    ),
    "cluster_startup": (
        "The cluster could not start, so no task ran. Check the provider settings{target_ctx} "
        "(partition, account, memory/walltime limits), the scheduler address and firewall, and the job logs of "
        "the first workers."
    ),
    "graph_deserialization": (
        "The scheduler could not unpickle a task graph that a client submitted, so none of its tasks ran (they never "
        "appear in the task counts; the submitting client got the error){module_ctx}. Cause: the scheduler's Python "
        "environment differs from the client's: a module the graph refers to, or a package version, is missing "
        "there. Fix: run the scheduler, the workers and the client in the same environment (check with "
        "`client.get_versions(check=True)`); for code in local modules that are not installed on the cluster, ship "
        "it by value (`cloudpickle.register_pickle_by_value(module)`) or install it on the scheduler too."
    ),
    "invalid_input": (
        "Tasks received data they could not handle{example_ctx}. Validate inputs before submitting, and check the "
        "scenario/parameter that the failing tasks have in common."
    ),
    "user_code": (
        "Bugs in the task code{example_ctx}. Reproduce one failing task locally with the same arguments; the "
        "exception and the innermost frames below point at the line."
    ),
    "run_abandoned": (
        "The driving process stopped without closing the session (killed, lost its node or its SSH session?). "
        "{unfinished} task(s) never finished. Run the driver under nohup/tmux or as a batch job, and re-run only the "
        "unfinished tasks (Scalable's cache skips finished ones)."
    ),
}


def _literal_blocks(rules: tuple[Rule, ...]) -> tuple[tuple[tuple[str, ...], int], ...]:
    """Per rule: the literals to look for before it runs (none looked for yet), and their first bit.

    Literals are registered in table order, so the ones a rule needs that no
    earlier rule needed form one block; ``classify`` looks for a block only
    when its rule is reached (a ``KilledWorker`` stops at ``worker_lost``, half
    way down, and never looks for the rest).
    """
    blocks: list[tuple[tuple[str, ...], int]] = []
    done = 0
    for rule in rules:
        top = 1 + max((_LITERAL_BIT[x] for lits in rule.literals if lits for x in lits), default=-1)
        if top > done:
            blocks.append((tuple(_LITERALS[done:top]), 8 * done))
            done = top
        else:
            blocks.append(((), 0))
    return tuple(blocks)


_BLOCKS = _literal_blocks(RULES)


def classify(exc_types: tuple[str, ...], text: str, phase: str | None, lowered: str | None = None) -> tuple[Rule, str]:
    """First rule that matches, and what matched.

    ``lowered``: ``text.lower()`` of an ASCII ``text``; then the rules'
    literals are looked for (each once, in blocks as the rules are reached:
    ``literal_mask``'s bits) and each rule runs only the patterns that can match.
    """
    if lowered is None:
        for rule in RULES:
            why = rule.match(exc_types, text, phase)
            if why is not None:
                return rule, why
    else:
        present = 0
        for rule, (lits, shift) in zip(RULES, _BLOCKS):
            if lits:
                present |= literal_mask(lowered, lits, shift)
            why = rule.match(exc_types, text, phase, present)
            if why is not None:
                return rule, why
    raise AssertionError("the user_code rule matches everything")  # pragma: no cover
