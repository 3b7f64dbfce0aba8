"""Every command line the README and docs/ (and the models README and the example config) show is
one the tools accept.

Command lines are taken from inline code (`menwei ...`, `make ...`, `scripts/....sh ...`) and from
the lines of fenced code blocks. Each `menwei` line is parsed by the real argument parser (a dry
run: nothing executes), after `--help` has proved its command path exists; each `make` target is
dry-run with `make -n`; each script's options must be ones its `--help` lists. Placeholders
(FILE, DIR, N ...) become a dummy value, `[optional]` parts are kept, `a|b` takes the first
choice, and `fetch/verify/list` in a command word stands for one line per choice.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from menwei.main import build_parser

REPO = Path(__file__).resolve().parents[2]
# README.md, docs/, and the two other places an operator reads commands from
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "gateway" / "models" / "README.md",
    REPO / "systemd" / "menwei.example.toml",
]
# `$MENWEI` is how docs/operations.md spells the installed menwei
PROGRAM = r"(?:sudo )?(?:\$MENWEI|(?:[\w./-]*/)?(?:menwei|make|scripts/[\w-]+\.sh))"
INLINE = re.compile(rf"`({PROGRAM}(?: [^`]*)?)`")
BLOCK_LINE = re.compile(rf"^{PROGRAM}( |$)")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_-]*$")


@dataclass(frozen=True)
class Documented:
    where: str  # file:line
    argv: tuple[str, ...]  # program first: menwei | make | scripts/x.sh

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join(self.argv)}"


def _words(text: str) -> list[str]:
    text = text.split("  #", 1)[0].replace("[", " ").replace("]", " ")
    words = [w for w in text.split() if w not in ("...", "sudo")]
    return [w.split("|", 1)[0] if "|" in w else w for w in words]


def _expand(words: list[str]) -> list[list[str]]:
    """`models fetch/verify/list` -> one command per choice (command words only, not paths)."""
    for index, word in enumerate(words):
        if word.startswith("-"):
            break
        if "/" in word and not word.startswith(("/", ".", "~")) and index > 0:
            return [
                expanded
                for choice in word.split("/")
                for expanded in _expand([*words[:index], choice, *words[index + 1 :]])
            ]
    return [words]


def _program(words: list[str]) -> list[str]:
    head = words[0]
    if head.endswith("/menwei") or head in ("menwei", "$MENWEI"):
        return ["menwei", *words[1:]]
    if "scripts/" in head:
        return ["scripts/" + head.split("scripts/", 1)[1], *words[1:]]
    return words


def documented_commands() -> list[Documented]:
    found = []
    for path in DOCS:
        in_block = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            texts = [line.strip()] if in_block and BLOCK_LINE.match(line.strip()) else []
            if not in_block:
                texts = [match.group(1) for match in INLINE.finditer(line)]
            for text in texts:
                for words in _expand(_words(text)):
                    where = f"{path.relative_to(REPO)}:{number}"
                    found.append(Documented(where, tuple(_program(words))))
    return found


COMMANDS = documented_commands()


def _parse(argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr + stdout) of parsing `argv` with menwei's parser; nothing runs."""
    parser = build_parser()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parser.parse_args(argv)
        except SystemExit as stop:
            return int(stop.code or 0), err.getvalue() + out.getvalue()
    return 0, ""


def _dummy(word: str) -> str:
    return "1" if PLACEHOLDER.match(word) else word


def test_the_docs_show_every_command_group() -> None:
    programs = {c.argv[0] for c in COMMANDS}
    assert {"menwei", "make", "scripts/install.sh"} <= programs
    groups = {c.argv[1] for c in COMMANDS if c.argv[0] == "menwei" and len(c.argv) > 1}
    assert {"run", "config", "doctor", "models", "demo", "station", "hw", "eval", "bench"} <= groups


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.argv[0] == "menwei"], ids=str)
def test_documented_menwei_command_parses(command: Documented) -> None:
    words = [_dummy(w) for w in command.argv[1:]]
    path = []
    for word in words:
        if word.startswith("-"):
            break
        path.append(word)
    code, output = _parse([*path, "--help"])
    assert code == 0, f"{command}: `menwei {' '.join(path)} --help` fails: {output}"
    code, output = _parse(words)
    if code != 0:
        bare = not any(w.startswith("-") for w in words)
        required_only = "the following arguments are required" in output
        # A bare mention (`menwei station tail`) may leave required options to the reader;
        # anything the docs do spell out must be accepted as written.
        assert bare and required_only, f"{command}: {output.strip()}"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.argv[0] == "make"], ids=str)
def test_documented_make_target_dry_runs(command: Documented) -> None:
    result = subprocess.run(
        ["make", "-n", *command.argv[1:]], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{command}: {result.stderr}"


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c.argv[0].startswith("scripts/")], ids=str
)
def test_documented_script_options_exist(command: Documented) -> None:
    script = REPO / command.argv[0]
    result = subprocess.run(
        ["bash", str(script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{command}: {result.stderr}"
    for option in (w for w in command.argv[1:] if w.startswith("--")):
        assert option in result.stdout, f"{command}: {option} is not in {script.name} --help"
