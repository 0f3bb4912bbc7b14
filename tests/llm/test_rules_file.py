"""A bad --redact-rules file: one line naming the file, the rule and the field; exit 2; nothing sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.llm.redact import Redactor
from assistant.llm.redact_compile import RedactionRulesError, load_rules_file
from tests.conftest import run_cli
from tests.llm import fakeserver as fs

GOOD = 'name = "proj"\npattern = "PRJ-([0-9]+)"\n'

# (rules-file body after "[[rules]]", the field the message must name)
BAD_RULES = [
    (GOOD + 'group = "one"\n', "group"),
    (GOOD + "group = -1\n", "group"),
    (GOOD + "group = true\n", "group"),
    (GOOD + "group = 1.5\n", "group"),
    (GOOD + "group = 2\n", "group"),
    (GOOD + "group = [1]\n", "group"),
    (GOOD + "kind = 3\n", "kind"),
    (GOOD + 'kind = "Bad Kind!"\n', "kind"),
    ('name = "proj"\npattern = 5\n', "pattern"),
    ('name = "proj"\npattern = "("\n', "pattern"),
    ('name = "proj"\npattern = ""\n', "pattern"),
    ('name = "proj"\nliteral = ""\n', "literal"),
    ('name = "proj"\nliteral = ["a"]\n', "literal"),
    (GOOD + 'ignore_case = "yes"\n', "ignore_case"),
    (GOOD + 'check = "nope"\n', "check"),
    (GOOD + "check = 1\n", "check"),
    ('name = "proj"\npatern = "x"\n', "patern"),
    ('name = 7\npattern = "x"\n', "name"),
]


def write(tmp_path: Path, body: str, name: str = "rules.toml") -> Path:
    f = tmp_path / name
    f.write_text(body)
    return f


@pytest.mark.parametrize(("body", "field"), BAD_RULES)
def test_each_bad_field_is_named_with_file_and_rule(tmp_path: Path, body: str, field: str) -> None:
    f = write(tmp_path, '[[rules]]\nname = "fine"\nliteral = "ok"\n\n[[rules]]\n' + body)
    with pytest.raises(RedactionRulesError) as ei:
        Redactor(rules_file=f)
    msg = str(ei.value)
    assert str(f) in msg and "rule 2" in msg and f"'{field}'" in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"disable": "email"}, "'disable' must be a list"),
        ({"disable": [1]}, "'disable' must be a list"),
        ({"rules": {"name": "x"}}, "'rules' must be a list"),
        ({"rules": ["x"]}, "rule 1 must be a table"),
        ({"rulez": []}, "unknown key(s) 'rulez'"),
        ({"rules": [{"name": "x", "pattern": "a(b)", "group": "one"}]}, "field 'group'"),
    ],
)
def test_bad_json_files(tmp_path: Path, doc: object, needle: str) -> None:
    f = write(tmp_path, json.dumps(doc), "rules.json")
    with pytest.raises(RedactionRulesError) as ei:
        load_rules_file(f)
    assert needle in str(ei.value) and str(f) in str(ei.value)


def test_a_good_file_still_works(tmp_path: Path) -> None:
    f = write(tmp_path, "[[rules]]\n" + GOOD + "group = 1\nignore_case = true\ncheck = \"not_loopback\"\n")
    assert Redactor(rules_file=f, local_identity=False).redact("see prj-42") == "see prj-<secret-1>"


@pytest.mark.parametrize("extra", [["--show-prompt"], [], ["--format", "json"]])
def test_cli_exits_2_with_one_line_and_sends_nothing(  # type: ignore[no-untyped-def]
    tmp_path: Path, mixed_run: Path, server: fs.FakeOpenAI, extra: list[str]
) -> None:
    f = write(tmp_path, '[[rules]]\nname = "proj"\npattern = "PRJ-([0-9]+)"\ngroup = "one"\n')
    p = run_cli("diagnose", str(mixed_run), "--ai-endpoint", server.url, "--redact-rules", str(f), *extra,
                env={"SCALABLE_TUI_CACHE_DIR": str(tmp_path / "c")}, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and str(f) in lines[0] and "'proj'" in lines[0] and "'group'" in lines[0], p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert server.requests == []


def test_cli_checks_the_file_even_without_an_ai_endpoint(tmp_path: Path, mixed_run: Path) -> None:
    f = write(tmp_path, '[[rules]]\nname = "proj"\npattern = "x"\ngroup = -1\n')
    p = run_cli("diagnose", str(mixed_run), env={"SCALABLE_TUI_REDACT_RULES": str(f)}, timeout=60)
    assert p.returncode == 2 and "'group'" in p.stderr and "Traceback" not in p.stderr
