"""recordings/argument_types.py: how a benchmark command ends on a file it cannot use."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import pytest

from core.model import load_checkpoint
from recordings.argument_types import run_command


def test_a_bad_checkpoint_ends_a_benchmark_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_text("junk\n")
    with pytest.raises(SystemExit) as stop:
        run_command(lambda: load_checkpoint(bad), "python -m benchmarks.engines")
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"python -m benchmarks.engines: error: {bad}: cannot read as a torch checkpoint: ")
    assert "it is no PyTorch checkpoint" in err


def test_a_benchmark_that_runs_exits_with_its_status() -> None:
    for returned, status in ((None, 0), ({"figures": 1}, 0), (3, 3)):
        with pytest.raises(SystemExit) as stop:
            run_command(lambda returned=returned: returned, "prog")
        assert stop.value.code == status


def test_an_output_on_a_read_only_disk_is_refused_when_given_not_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A screenshot or a decisions file that cannot be written is said before the app starts. Tried by
    making a file there: permission bits say nothing of a read-only disk (and nothing to root)."""
    import argparse
    import tempfile

    from recordings.argument_types import image_file, output_file

    assert image_file(str(tmp_path / "view.png")) == tmp_path / "view.png"
    real = tempfile.TemporaryFile

    def read_only(*args, dir=None, **kwargs):
        if Path(dir) == tmp_path:
            raise OSError(30, "Read-only file system")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    for kind in (image_file, output_file):
        with pytest.raises(argparse.ArgumentTypeError, match=r"view\.png: cannot be written \(.*Read-only"):
            kind(str(tmp_path / "view.png"))


def test_numbers_that_are_not_finite_are_refused_by_every_number_type() -> None:
    """'nan' and 'inf' parse as floats, then pass every comparison (inf) or none (nan): --hop inf gave no
    decision ever and --min-free-gb nan failed on converting NaN to an integer, naming no option."""
    import argparse

    from recordings.argument_types import (
        float_in,
        hop_seconds,
        non_negative_float,
        positive_float,
        probability,
    )

    for parse in (positive_float, non_negative_float, probability, hop_seconds, float_in(0, 1)):
        for text in ("nan", "inf", "-inf"):
            with pytest.raises(argparse.ArgumentTypeError, match=f"expected a finite number, got '{text}'"):
                parse(text)
    assert float_in(0, 1)("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError, match="must be from 0 to 1, got 2"):
        float_in(0, 1)("2")


def test_an_output_folder_under_a_file_or_empty_is_refused_when_given(tmp_path: Path) -> None:
    """Said at once, not as '[Errno 20] Not a directory' once the model has loaded."""
    import argparse

    from recordings.argument_types import output_folder

    blocked = tmp_path / "notes.txt"
    blocked.write_text("")
    with pytest.raises(argparse.ArgumentTypeError, match=f"{blocked} is a file, not a folder"):
        output_folder(str(blocked / "clips" / "today"))
    with pytest.raises(argparse.ArgumentTypeError, match="a file, not a folder"):
        output_folder(str(blocked))
    with pytest.raises(argparse.ArgumentTypeError, match="empty"):
        output_folder("")
    assert output_folder(str(tmp_path / "new" / "clips")) == tmp_path / "new" / "clips"  # made later
    assert not (tmp_path / "new").exists()
    (tmp_path / "moved").symlink_to(tmp_path / "gone")  # "File exists" when made, naming neither
    with pytest.raises(argparse.ArgumentTypeError, match=f"moved: a link to {tmp_path / 'gone'}, which does"):
        output_folder(str(tmp_path / "moved"))


@pytest.mark.parametrize("type_name", ["existing_path", "replaced_file", "output_file", "image_file",
                                       "folder_path", "output_folder"])
def test_a_path_type_refuses_a_name_too_long_and_reads_a_tilde_as_home(type_name, tmp_path, monkeypatch):
    """A name over 255 characters made Path.exists() raise: a traceback through argparse, not a usage
    error. A quoted '~/clips' (or any '~' on Windows, whose shell does not expand it) made a folder '~'."""
    import argparse

    from recordings import argument_types

    parse = getattr(argument_types, type_name)
    too_long = str(tmp_path / ("x" * 300) / "out.png")
    with pytest.raises(argparse.ArgumentTypeError, match=r"x{300}/out.png: File name too long"):
        parse(too_long)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "shot.png").write_bytes(b"")
    given = "~/clips" if type_name in ("folder_path", "output_folder") else "~/shot.png"
    assert parse(given) == tmp_path / given[2:]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "~root").mkdir()
    (tmp_path / "~root" / "shot.png").write_bytes(b"")
    assert parse(f"~root{given[1:]}") == Path(f"~root{given[1:]}")  # a name, not root's home folder
    # A service's or a container's user without a home (HOME unset, not in the password database): a
    # folder named '~' in the working folder, before. No such system on Windows, which needs no pwd.
    if os.name != "nt":
        import pwd

        def no_entry(uid: int) -> None:
            raise KeyError(f"getpwuid(): uid not found: {uid}")

        monkeypatch.delenv("HOME")
        monkeypatch.setattr(pwd, "getpwuid", no_entry)
        with pytest.raises(argparse.ArgumentTypeError, match=f"{given}: this user has no home folder"):
            parse(given)
        assert not (tmp_path / "~").exists()


def test_a_command_to_paste_is_quoted_as_this_system_s_shell_reads_it(monkeypatch):
    """cmd.exe groups arguments with double quotes only: 'patient fell' reached it as two arguments, and a
    quoted C:\\ path as a file name starting with a quote."""
    import recordings.argument_types
    from recordings.argument_types import as_typed

    assert as_typed("patient fell") == "'patient fell'" and as_typed("/data/clips") == "/data/clips"
    monkeypatch.setattr(recordings.argument_types.os, "name", "nt")
    assert as_typed("patient fell") == '"patient fell"'
    clip = r"C:\data\clips\S001C001P001R001A121.skeleton"
    assert as_typed(clip) == clip  # as it is: a backslash is no escape there
    assert as_typed(r"C:\R&D\clips") == r'"C:\R&D\clips"'  # cmd.exe ran "D\clips" as a command of its own
    assert as_typed("C:\\Station(4)\\") == '"C:\\Station(4)\\\\"'  # the closing quote not escaped


@pytest.mark.parametrize(("argv", "prog"), [
    (["evaluate", "--bogus"], "python -m training evaluate"),  # was sent to `python -m training --help`
    (["evaluate"], "python -m training evaluate"),  # an error the command raises itself
    (["pose", "--epochs", "x"], "python -m training pose"),
    (["--bogus"], "python -m training"),
])
def test_a_usage_error_is_one_line_naming_the_command_whose_help_lists_the_options(argv, prog, capsys):
    from training.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    said = capsys.readouterr().err
    assert stop.value.code == 2 and said.count("\n") == 1  # not 18 lines of usage before it
    assert said.startswith(f"{prog}: error: ") and said.endswith(f"({prog} --help lists the options)\n")


def test_recordings_usage_errors_name_their_subcommand(capsys):
    from recordings.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(["info", "--bogus", "x"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("python -m recordings info: error: unrecognized arguments: --bogus "
                                       "(python -m recordings info --help lists the options)\n")


@pytest.mark.parametrize("command", ["live.app", "training.__main__", "recordings.__main__"])
def test_each_command_says_which_release_runs(command, capsys):
    import importlib

    from core.package_files import software_commit, software_version

    with pytest.raises(SystemExit) as stop:
        importlib.import_module(command).main(["--version"])
    assert stop.value.code == 0
    said = capsys.readouterr().out
    assert said.startswith(f"where-to-focus {software_version()}") and software_version() != "unknown"
    commit = software_commit()
    if commit is None:  # an installed copy, or no git
        assert said == f"where-to-focus {software_version()}\n"
    else:  # a checkout's installed version is its install's: the commit says which code runs
        assert said.endswith(f" (checkout at {commit[:12]}{'+changes' if '+' in commit else ''})\n")


def test_the_version_names_a_checkout_s_commit_and_its_changes(monkeypatch):
    import core.package_files as package_files

    version = package_files.software_version()
    monkeypatch.setattr(package_files, "software_commit", lambda: None)  # an installed copy, or no git
    assert package_files.describe_software() == f"where-to-focus {version}"
    monkeypatch.setattr(package_files, "software_commit", lambda: "0123456789abcdef" * 2 + "01234567+changes")
    assert package_files.describe_software() == f"where-to-focus {version} (checkout at 0123456789ab+changes)"


def test_the_commit_is_read_without_a_lock_from_a_checkout_of_another_account_and_never_waited_on(
    monkeypatch, tmp_path
):
    """The app's first log line asks git at every start: a checkout owned by another account (a service's)
    was refused as "dubious ownership", `git status` took the index lock an admin's `git pull` needs, and
    a git that hung held the start up to 20 s."""
    import subprocess

    import core.package_files as package_files

    (tmp_path / ".git").mkdir()  # a checkout, wherever the tests run (an unpacked sdist has no .git)
    monkeypatch.setattr(package_files, "PACKAGE_ROOT", tmp_path)
    asked = []

    def run(argv, **kwargs):
        asked.append((argv, kwargs["timeout"]))
        return subprocess.CompletedProcess(argv, 0, stdout="ab" * 20 + "\n", stderr="")

    monkeypatch.setattr(package_files.subprocess, "run", run)
    assert package_files.software_commit() == "ab" * 20 + "+changes"  # status listed something
    root = package_files.PACKAGE_ROOT.as_posix()
    for argv, timeout in asked:
        assert argv[:4] == ["git", "-c", f"safe.directory={root}", "--no-optional-locks"] and timeout <= 2

    def hangs(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    monkeypatch.setattr(package_files.subprocess, "run", hangs)
    assert package_files.software_commit() is None


def _options_without_help(parser: argparse.ArgumentParser, prog: str) -> list[str]:
    missing = []
    for action in parser._actions:  # argparse keeps its options (and subcommands) there
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                missing += _options_without_help(command, f"{prog} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._StoreConstAction):
            # A value the option takes when not given is said (an empty list, or None, is "not given").
            said = action.default in (None, [], argparse.SUPPRESS) or "default" in (action.help or "")
            if not action.help or not said:
                missing.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_of_the_three_commands_says_what_it_does_and_its_default():
    """`recordings synth --help` listed --clips-per-class with neither what it counts nor its default (100
    per class: 15 minutes of writing), `training prepare` --workers and --max-bodies with nothing."""
    from live.app import build_parser as live_parser
    from recordings.__main__ import build_parser as recordings_parser
    from recordings.synthetic import build_parser as synth_parser
    from training.__main__ import build_parser as training_parser

    missing = (_options_without_help(live_parser(), "live")
               + _options_without_help(training_parser(), "training")
               + _options_without_help(recordings_parser(), "recordings")
               + _options_without_help(synth_parser(), "recordings synth"))
    assert missing == []


@pytest.mark.skipif(os.name == "nt", reason="a Windows path is a path there")
@pytest.mark.parametrize("path", ["C:\\runs\\out.jsonl", "d:/Aufnahmen/Station 3"])
def test_a_windows_path_on_another_system_is_refused_not_made_a_file_name(path: str, tmp_path: Path,
                                                                         monkeypatch) -> None:
    from recordings.argument_types import any_path, folder_path, output_file

    monkeypatch.chdir(tmp_path)
    for path_type in (output_file, folder_path, any_path):  # any_path: --alert-queue, --video, --cache-dir
        with pytest.raises(argparse.ArgumentTypeError, match="a Windows path, and this is not Windows"):
            path_type(path)
    assert list(tmp_path.iterdir()) == []


def test_a_lines_file_that_is_there_needs_no_writable_folder(tmp_path: Path, monkeypatch) -> None:
    """--output /dev/null, which the README's service uses, was refused to every user but root ("/dev:
    Permission denied"), as was a file IT made for the service in a folder of root's: appended to, the
    file needs to take lines, not its folder new files. A file that is not there yet still needs one, named
    in full (a relative path's said "."). Root writes anywhere: a folder no user can write stands in."""
    from recordings import argument_types
    from recordings.argument_types import json_lines_file, output_file

    made = tmp_path / "decisions.jsonl"
    made.write_text("")
    monkeypatch.setattr(argument_types, "why_not_writable", lambda folder: f"{folder}: Permission denied")
    assert json_lines_file(str(made)) == made
    assert json_lines_file(os.devnull) == Path(os.devnull)
    with pytest.raises(argparse.ArgumentTypeError, match=f"cannot be written \\({tmp_path}: Permission"):
        json_lines_file(str(tmp_path / "new.jsonl"))
    with pytest.raises(argparse.ArgumentTypeError, match="cannot be written"):  # replaced whole: a new file
        output_file(str(made))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(argparse.ArgumentTypeError, match=f"new.jsonl: cannot be written \\({tmp_path}: "):
        json_lines_file("new.jsonl")


def test_every_command_s_help_works_where_python_drops_docstrings():
    """`python -OO` (PYTHONOPTIMIZE=2 in a service's environment) drops docstrings: two commands built
    their description from theirs and ended in AttributeError before their help."""
    import subprocess
    import sys

    from recordings.synthetic import build_parser

    repo = Path(__file__).resolve().parents[1]
    script = ("import sys; from recordings.synthetic import build_parser; build_parser().format_help(); "
              "from training.export import main; main(['--help'])")
    done = subprocess.run([sys.executable, "-OO", "-c", script], cwd=repo, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "python -m training export" in done.stdout, done.stderr[-2000:]
    assert build_parser().description  # with docstrings, the first paragraph as ever
    # The benchmarks too (13 of them took their help's first line as `__doc__.splitlines()[0]`), read rather
    # than run: each would start its own Python, most with PyTorch.
    calling_doc = [path.name for path in sorted((repo / "benchmarks").glob("*.py"))
                   if "__doc__." in path.read_text(encoding="utf-8")]
    assert calling_doc == []


@pytest.mark.parametrize(("line", "arguments"), [
    ("--room ward 3 bed 12", ["--room", "ward 3 bed 12"]),  # a value with spaces, whole
    ("  --alert-class   \"hugging other person\"  ", ["--alert-class", "hugging other person"]),
    ("--alert-class 'fall_down'", ["--alert-class", "fall_down"]),
    ("--room=ward 3", ["--room=ward 3"]),
    ('--room="ward 3"', ["--room=ward 3"]),  # quotes dropped in this form too
    ("--room \"ward 3'", ["--room", "\"ward 3'"]),  # quotes that do not pair are the value's
    ("--room '", ["--room", "'"]),
    ("--headless", ["--headless"]),
    ("-r ward 3", ["-r", "ward 3"]),  # a short option is an option too
    ("Zimmer 12 Süd", ["Zimmer 12 Süd"]),  # a value on its own line, below its option (argparse's way)
    ("\"ward 3\"", ["ward 3"]),
    ("--source\tC:\\data\\room 12.xef", ["--source", "C:\\data\\room 12.xef"]),  # backslashes as written
    ("# ward 3's beds", []),
    ("   ", []),
])
def test_an_options_file_line_is_an_option_and_its_value(line: str, arguments: list[str]) -> None:
    from recordings.argument_types import options_file_line

    assert options_file_line(line) == arguments


def test_a_room_s_options_come_from_a_file(tmp_path: Path) -> None:
    """40 rooms were 40 long ExecStart lines, and a class name's spaces cannot pass through a unit's
    $VARIABLE: `python -m live @/etc/where-to-focus/bed-12.args` reads them from a file."""
    from live.app import build_parser
    from recordings.argument_types import expand_options_files

    options = tmp_path / "bed-12.args"
    # Notepad's UTF-8: a BOM, CRLF line ends; a room's name beyond ASCII (argparse's own reading took the
    # locale's encoding: cp1252 on a Windows ward PC).
    options.write_bytes("\ufeff# ward 3, bed 12\r\n--headless\r\n--room Zimmer 12 – Süd\r\n"
                        "--alert-class hugging other person\r\n--alert-class fall_down\r\n--duration=2\r\n"
                        .encode("utf-8"))
    args = build_parser().parse_args(expand_options_files([f"@{options}", "--threads", "1"]))
    assert args.headless and args.room == "Zimmer 12 – Süd" and args.duration == 2.0 and args.threads == 1
    assert args.alert_classes == ["hugging other person", "fall_down"]
    for name, content, said in (("missing.args", None, "no such options file"),
                                ("latin1.args", "--room Süd\n".encode("latin-1"), "not UTF-8 text (byte 8)")):
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f"@{tmp_path / name}: {re.escape(said)}"):
            expand_options_files([f"@{tmp_path / name}"])
    # A value that begins with @ is a value (`--room @icu` named a room before options files); a file after
    # a flag or after --option=value is read; "@" alone is no file.
    assert expand_options_files(["--room", "@icu", "--headless"]) == ["--room", "@icu", "--headless"]
    assert expand_options_files(["--headless", f"@{options}"])[:2] == ["--headless", "--headless"]
    assert expand_options_files(["--room=x", f"@{options}"])[:2] == ["--room=x", "--headless"]
    assert expand_options_files(["--room", "x", "@"]) == ["--room", "x", "@"]


def test_what_may_be_a_secret_is_left_out_of_an_error_and_nothing_else() -> None:
    from recordings.argument_types import without_secrets

    assert without_secrets("--alert-urll https://nurse:pa;ss@hooks.example/x?token=1") == \
        "--alert-urll https://…@hooks.example/…"  # a password may hold ; # ?: the last @ ends it
    assert without_secrets("Authorization: bearer abc123secret") == "Authorization: bearer …"
    assert without_secrets("https://h.example;jsessionid=S1") == "https://h.example/…"
    for kept in ("(e.g. 'Bearer <token>')", "/mnt/smb://srv/share is not writable", "see https://docs.example",
                 r"C:\recordings\bed 12 is not a folder"):
        assert without_secrets(kept) == kept
