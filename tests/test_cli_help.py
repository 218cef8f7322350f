"""Usage of the command line itself: help texts and contradictory options (issue #9 item 16).

No media is processed: click parses, the options refuse, `--help` prints.
"""

from __future__ import annotations

import click
import pytest

from pipeline.cli import main

from conftest import fixture, run_cli


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


@pytest.mark.parametrize(
    "flags, says",
    [
        (("--speakers", "2", "--min-speakers", "3"), "--speakers 2 contradicts"),
        (("--speakers", "4", "--max-speakers", "3"), "--speakers 4 contradicts"),
        (("--min-speakers", "5", "--max-speakers", "2"), "--min-speakers 5 is more than --max-speakers 2"),
    ],
)
def test_contradictory_speaker_options_are_a_usage_error_in_one_line(tmp_path, flags, says):
    result = run_cli("ingest", str(fixture("two_voices.mp4")), *flags, library=tmp_path / "lib")
    assert result.exit_code == 2
    assert result.stderr == f"error: {says}\n" or (result.stderr.startswith("error: ") and says in result.stderr)
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "lib" / "transcripts").exists()


def test_every_option_of_every_command_has_help():
    missing = [(" ".join(path), p.opts[0]) for path, cmd in _commands(main) for p in cmd.params
               if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]  # fmt: skip
    assert missing == []


@pytest.mark.parametrize("group", [(), ("glossary",)])
def test_command_lists_are_not_cut_off(group):
    result = run_cli(*group, "--help")
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:\n", 1)[1]
    assert "..." not in listed, listed
    cmd = main
    for name in group:
        cmd = cmd.commands[name]
    for name, sub in cmd.commands.items():
        first = (sub.short_help or (sub.help or "").split("\n\n")[0]).split(". ")[0].rstrip(".")
        assert " ".join(first.split()) in " ".join(listed.split()), name


def test_glossary_option_says_what_it_does(tmp_path):
    """--glossary FILE is for this ingest only: the library glossary stays as it was."""
    lib = tmp_path / "lib"
    names = tmp_path / "names.txt"
    names.write_text("Vellacourt\n")
    help_text = " ".join(run_cli("ingest", "--help").stdout.split())
    assert "adds to the library glossary" not in help_text
    assert "this ingest only" in help_text
    assert run_cli("glossary", "add", "Port Ellis", library=lib).exit_code == 0
    run_cli("ingest", str(tmp_path / "none.mp4"), "--glossary", str(names), library=lib)
    assert run_cli("glossary", "list", library=lib).stdout == "Port Ellis\n"
