"""argparse types for numbers with a range and paths that must exist, shared by the command lines
(`python -m recordings`, `live`, `training`, the benchmarks): a bad value is a usage error that names the
option, before anything is opened or written. `prepare_console`: what every command does first. And
`run_command`: how a benchmark ends on input it cannot use (here, not in benchmarks/, because benchmarks
run as scripts too and are no installed package)."""

from __future__ import annotations

import argparse
import codecs
import datetime as _dt
import functools
import ipaddress
import json
import math
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from core.package_files import bundled, describe_software
from core.wording import no_home_folder
from recordings.atomic import why_not_writable


def integer_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An int in [low, high] (no upper bound when high is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


# More threads than a few per core only make them wait for each other (ONNX Runtime, torch or OpenMP
# hang or fail allocating 100,000 of them): a larger --threads is a typo.
THREADS_PER_CORE = 4
MAX_THREADS = THREADS_PER_CORE * (os.cpu_count() or 1)
thread_count = integer_in(1, MAX_THREADS)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):  # 'nan' and 'inf' parse, and then pass every comparison or fail oddly
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


KINECT_FRAME_S = 1 / 30


def hop_seconds(text: str) -> float:
    """Seconds between decisions: at least a Kinect frame, since no decision can come between two frames
    (a shorter hop would count the hops between frames as skipped)."""
    value = _number(text)
    if not value >= KINECT_FRAME_S - 1e-9:
        raise argparse.ArgumentTypeError(f"must be at least {KINECT_FRAME_S:.4f} s (one Kinect frame), "
                                         f"got {value}")
    return value


MAX_SMOOTHING_S = 10.0


def smoothing_seconds(text: str) -> float:
    """The score smoothing's time constant, 0 (none) to MAX_SMOOTHING_S: every decision lags by about it,
    so more would tell staff of a fall after the moment has passed (and 1e9 held the first scores for
    good, recorded by `ensemble` into the model for the app)."""
    value = _number(text)
    if not 0 <= value <= MAX_SMOOTHING_S:
        raise argparse.ArgumentTypeError(f"must be from 0 (none) to {MAX_SMOOTHING_S:g} s, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def probability(text: str) -> float:
    """A probability threshold in (0, 1): a score reaches 1 only where the model is certain to the last bit
    (a simulated fall peaked at 0.9934), so at 1 nothing would be decided, no alert raised, without a word."""
    value = _number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and below 1, got {value}")
    return value


def _path_type(parse: Callable[[str], Path]) -> Callable[[str], Path]:
    """A path argument type, given the path with a leading `~` made the home folder (a quoted '~/clips',
    or cmd.exe, which never expands it, made a folder named '~'; not '~name', another user's home, which
    a folder may be called), and one the system cannot look at (a name longer than 255 characters: Python
    raises where it would say it does not exist) a usage error naming it."""

    @functools.wraps(parse)
    def checked(text: str) -> Path:
        if os.name != "nt" and re.match(r"[A-Za-z]:[\\/]", text):
            # A Windows path copied into a Linux service unit made a file named 'C:\runs\out.jsonl' in
            # the working folder, silently.
            raise argparse.ArgumentTypeError(f"{text}: a Windows path, and this is not Windows: give a path "
                                             "of this computer (folders separated by /)")
        home = text == "~" or text.startswith(("~/", "~" + os.sep))
        if home and os.path.expanduser("~") == "~":  # left as it is: a folder named '~' made where it runs
            raise argparse.ArgumentTypeError(
                f"{text}: this user has no home folder for '~' ({no_home_folder()}): give the full path")
        try:
            return parse(os.path.expanduser(text) if home else text)
        except OSError as error:
            raise argparse.ArgumentTypeError(f"{text}: {error.strerror or error}") from None

    return checked


@_path_type
def any_path(text: str) -> Path:
    """A path as given, its checks the command's own (a queue file, a cache folder): only '~' and a
    Windows path on another system are seen to, as for every path."""
    return Path(text)


@_path_type
def package_file(text: str) -> Path:
    """A file as typed, or the package's own of that relative name (a bundled checkpoint or config, as
    the READMEs write them, from any folder and from an installed copy: core.package_files.bundled)."""
    return bundled(text)


@_path_type
def existing_path(text: str) -> Path:
    """A file or folder that exists."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return path


@_path_type
def existing_file(text: str) -> Path:
    """A file that exists (not a folder)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a folder, not a file")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def _in_a_writable_folder(text: str) -> Path:
    """`text` as a path whose folder exists and takes new files."""
    path = Path(text)
    if path.parent.exists() and not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {path.parent} is a file, not a folder")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: folder {path.parent} does not exist")
    # Named in full: a relative path's folder said "(.: Permission denied)" of a service's working folder.
    if (why := why_not_writable(path.absolute().parent)) is not None:
        raise argparse.ArgumentTypeError(f"{text}: cannot be written ({why})")
    return path


@_path_type
def replaced_file(text: str) -> Path:
    """A file written under a temporary name beside it and renamed into place (a checkpoint, an ONNX
    export): its folder must take new files. A folder given as the file is left to the command, which
    suggests a file name in it."""
    path = Path(text)
    return path if path.is_dir() else _in_a_writable_folder(text)


@_path_type
def output_file(text: str) -> Path:
    """A file to write: not a folder, in a folder that exists (a typo in the folder is said at once, not
    after the model has loaded)."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a folder, not a file")
    path = _in_a_writable_folder(text)
    if path.exists():  # appended to or replaced: the file itself may refuse what its folder allows
        _takes_lines(path, text)
    return path


def _takes_lines(path: Path, text: str) -> None:
    """Refuse `path` (given as `text`) where it cannot be opened for appending; nothing is written."""
    try:
        open(path, "ab").close()  # noqa: SIM115 - nothing written
    except OSError as error:
        raise argparse.ArgumentTypeError(f"{text}: cannot be written ({error.strerror or error})") from None


@_path_type
def json_lines_file(text: str) -> Path:
    """A file of JSON lines appended to (live's decisions and events): `output_file`, not in a recording
    being made (`*.partial`), and where it holds something already, JSON lines. A slip of the arguments
    appended decisions to the replayed clip's own sidecar, a .skeleton or labels.txt, and each was
    damaged for good. /dev and /proc (a shell's `>> run.log` as /dev/stdout) are the system's to say.

    A file that is there needs only to take lines, not its folder new files: /dev/null (whose /dev no
    service user can write), or a file IT made for the service in a folder of root's."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        _takes_lines(path, text)
    else:
        path = output_file(text)
    if any(part.endswith(".partial") for part in path.parts[:-1]):
        raise argparse.ArgumentTypeError(f"{text}: inside a recording being made: give another file")
    if str(path.absolute()).startswith(("/dev/", "/proc/")) or not path.is_file() or not path.stat().st_size:
        return path
    try:
        with open(path, "rb") as f:
            first = next((line for line in (f.readline(1 << 20) for _ in range(10)) if line.strip()), b"")
        ours = isinstance(json.loads(first), dict) if first else True
    except OSError:  # written, but not readable by this user: nothing to tell it by
        return path
    except (ValueError, RecursionError):
        # A first line a crash cut short (no newline, the whole of a small file): the writer drops it.
        ours = not first.endswith(b"\n") and len(first) == path.stat().st_size < 1 << 20
    if not ours:
        raise argparse.ArgumentTypeError(
            f"{text}: holds something other than JSON lines (its first line is no JSON object), and "
            "would be appended to: give another file")
    return path


@_path_type
def json_file(text: str) -> Path:
    """A results file a benchmark writes whole (its folder made when absent): named .json, so that a
    slip of the arguments cannot put results over a checkpoint (`--json model.pt` replaced the model)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a folder, not a file")
    if path.suffix.lower() != ".json":
        raise argparse.ArgumentTypeError(f"{text}: name the results file .json")
    return path


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")  # what Qt writes without plugins beyond its own


@_path_type
def image_file(text: str) -> Path:
    """An image to write (a screenshot), as `output_file`, named with a suffix that says its format."""
    path = output_file(text)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise argparse.ArgumentTypeError(f"{text}: name the image {', '.join(IMAGE_SUFFIXES)}")
    return path


@_path_type
def folder_path(text: str) -> Path:
    """A folder that may be written into later (made when absent): not empty, not an existing file, nor
    under one (said at once, not as 'Not a directory' once the model has loaded)."""
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("empty: name the folder ('.' for this one)")
    if path.is_symlink() and not path.exists():  # else "File exists" when it is made
        raise argparse.ArgumentTypeError(f"{text}: a link to {os.readlink(path)}, which does not exist")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a file, not a folder")
    existing = next((parent for parent in path.absolute().parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {existing} is a file, not a folder")
    return path


@_path_type
def output_folder(text: str) -> Path:
    """A folder a command writes into (made when absent), as `folder_path`, and one where a file can be
    made now (where it does not exist yet, in the nearest folder above it that does): a permission or a
    read-only disk said before any data is read."""
    path = folder_path(text)
    if (why := why_not_writable(path)) is not None:
        raise argparse.ArgumentTypeError(f"{text}: cannot be written ({why})")
    return path


def float_in(low: float, high: float) -> Callable[[str], float]:
    """A finite number in [low, high]."""

    def parse(text: str) -> float:
        value = _number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, got {value:g}")
        return value

    return parse


def as_typed(argument: str | os.PathLike[str]) -> str:
    """`argument` as this system's shell takes it back in a command to paste: a site's folder "Aufnahmen
    Station 4" has spaces; cmd.exe groups only with double quotes, POSIX shells with single ones."""
    argument = os.fspath(argument)
    if os.name == "nt":
        quoted = subprocess.list2cmdline([argument])
        if not quoted.startswith('"') and any(c in argument for c in _CMD_SPECIAL):
            # C:\R&D\clips: cmd.exe ran "D\clips" as a command of its own. Inside double quotes these
            # are plain characters; a trailing backslash is doubled, or it would escape the closing quote.
            quoted = '"' + argument + "\\" * (len(argument) - len(argument.rstrip("\\"))) + '"'
        return quoted
    return shlex.quote(argument)


def expand_options_files(arguments: Sequence[str]) -> list[str]:
    """`arguments` with each @FILE replaced by the options the file holds, a line at a time
    (`options_file_line`): a room's settings kept out of its service unit. Read as UTF-8 (a BOM, as Notepad
    writes, dropped; argparse's own reading took the locale's encoding, and a room named "Zimmer 12 – Süd"
    came out mangled on Windows). ValueError naming the file where it cannot be read."""
    expanded: list[str] = []
    for before, argument in zip(["", *arguments], arguments, strict=False):  # each with the one before it
        # A value that begins with @ (`--room @icu`) is no file, unless it names one.
        value = before.startswith("-") and "=" not in before and not Path(argument[1:]).is_file()
        if not argument.startswith("@") or argument == "@" or value:
            expanded.append(argument)
            continue
        try:
            text = Path(argument[1:]).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ValueError(f"{argument}: no such options file") from None
        except UnicodeDecodeError as error:
            raise ValueError(f"{argument}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
        except OSError as error:
            raise ValueError(f"{argument}: cannot be read ({error.strerror or error})") from None
        for line in text.splitlines():
            expanded += options_file_line(line)
    return expanded


def calendar_day(text: str) -> _dt.date:
    """A day as YYYY-MM-DD."""
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a day as YYYY-MM-DD") from None


def options_file_line(line: str) -> list[str]:
    """The arguments of one line of an @FILE of options: an option and its value, the value the rest of
    the line (spaces kept: class names have them; quotes around it dropped), or `--option=value`, or an
    option alone; a line that is no option, the value of the one above, whole (argparse's own way, which
    split "Zimmer Ö" under `--room` into two). Blank lines and lines starting with # say nothing.
    argparse's own reading took each line for one argument, so `--room ward 3` was one unknown option."""
    line = line.strip()
    if not line or line.startswith("#"):
        return []
    if not line.startswith("-"):
        return [_unquoted(line)]
    option, *rest = line.split(maxsplit=1)
    if "=" in option:
        option, _, value = line.partition("=")
        return [f"{option}={_unquoted(value)}"]
    return [option, _unquoted(rest[0])] if rest else [option]


def _unquoted(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


# A URL's scheme not inside a path (/mnt/smb://srv is a folder's name); an Authorization value, not a
# placeholder ('Bearer <token>' in a hint).
_URL = re.compile(r"""(?<![\w/.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s'"]+""")
_CREDENTIAL = re.compile(r"""\b(Bearer|Basic)\s+(?!<)[^\s'"]+""", re.IGNORECASE)


def without_secrets(text: str) -> str:
    """`text` (an error quoting the command line or an options file's line) with what may be a secret left
    out: a URL's user, query and path past its host (?token=..., a webhook's /hooks/<secret>) and an
    Authorization value (Bearer ...): a service's log keeps its errors, and a mistyped --alert-urll or a
    token pasted in the wrong place put them there."""
    def shown(url: re.Match) -> str:
        scheme, _, rest = url.group(0).partition("://")
        user, at, rest = rest.rpartition("@")  # a password may hold ; # ? (the last @ ends it)
        host, beyond = re.fullmatch(r"([^/?#;]*)(.*)", rest).groups()
        return f"{scheme}://" + ("…@" if at else "") + host + ("/…" if beyond.strip("/") else "")

    return _CREDENTIAL.sub(lambda match: f"{match.group(1)} …", _URL.sub(shown, text))


class CommandLineParser(argparse.ArgumentParser):
    """argparse's parser, whose usage error is one line: what is wrong, and where the options are listed.
    argparse's own printed the whole usage first (18 lines for `python -m live`), and a service's log then
    held a screenful for one mistyped option."""

    refused: str | None = None  # the usage error said, for a program that says it elsewhere too

    def error(self, message: str) -> NoReturn:
        message = without_secrets(message)
        self.refused = message
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")

    def add_version(self) -> None:
        """--version: which release runs (and a checkout's commit), for an IT team's inventory and a bug
        report."""
        self.add_argument("--version", action=_SoftwareVersion)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's, except that an option no parser knows is said by the subcommand it was given to
        (`python -m training evaluate --bogus` sent the reader to `python -m training --help`, which
        lists no option of evaluate's)."""
        namespace, unknown = self.parse_known_args(args, namespace)
        if unknown:
            self.chosen_subcommand(namespace).error(f"unrecognized arguments: {' '.join(unknown)}")
        return namespace

    def chosen_subcommand(self, namespace: argparse.Namespace) -> argparse.ArgumentParser:
        """The innermost parser of the subcommands `namespace` chose (this one where there are none)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):  # argparse keeps its subcommands there
                chosen = action.choices.get(getattr(namespace, action.dest, None))
                if isinstance(chosen, CommandLineParser):
                    return chosen.chosen_subcommand(namespace)
        return self


class _SoftwareVersion(argparse.Action):
    """argparse's version action, with the version found only when asked for: a checkout's commit costs
    two runs of git, which every parse would pay."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0,
                         help="say which version runs, and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_) -> NoReturn:
        print(describe_software())  # to standard output, as argparse's own
        parser.exit(0)


_CMD_SPECIAL = "&|<>^()"  # what cmd.exe reads as its own outside double quotes


def prepare_console(prog: str, argv: Sequence[str]) -> str | None:
    """At a command's start: what it prints never fails on a console that cannot show a character (a
    Windows cp1252 console, output piped to a file: a class named 跌倒 crashed `recordings list`), such a
    character is written as its backslash escape there; and why the command line cannot be used, or None.
    A locale that is not UTF-8, with Python's UTF-8 mode off, hands arguments it cannot decode over as
    surrogates: a folder named with an é then crashed OpenCV, and a label's name could not be written to
    labels.txt."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    undecoded = [argument for argument in argv if any("\udc80" <= c <= "\udcff" for c in argument)]
    if not undecoded:
        return None
    if codecs.lookup(sys.getfilesystemencoding()).name == "utf-8":
        # The locale is right: the bytes are another encoding's (a Latin-1 name copied from an old share).
        shown = os.fsencode(undecoded[0]).decode("utf-8", "backslashreplace")
        return (f"{prog}: '{shown}' is not UTF-8 (a name in another encoding, Latin-1 say): rename it "
                "(convmv -f latin1 -t utf8 --notest NAME) or reach it through a link with a UTF-8 name")
    return (f"{prog}: the command line holds characters this locale ({sys.getfilesystemencoding()}) "
            "cannot decode: run it under a UTF-8 locale (LANG=C.UTF-8) or with PYTHONUTF8=1")


def run_command(main: Callable[[], object], prog: str,
                errors: tuple[type[Exception], ...] = ()) -> NoReturn:
    """Run a benchmark's `main` and exit with its status; a checkpoint, engine or file it cannot use
    (or one of `errors`: a dataset folder it cannot read) ends it with one line that names the file and
    what is wrong (exit status 2), not a traceback."""
    from core.engines import EngineError
    from core.model.settings import CheckpointError

    try:
        status = main()
    except (CheckpointError, EngineError, FileNotFoundError, *errors) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)


def why_no_display(environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    """Why a Qt window cannot open here, or None: Linux with neither X nor Wayland and no Qt platform
    chosen (`QT_QPA_PLATFORM`), or a DISPLAY where no X server answers (an ssh -X session gone stale, an
    Xvfb stopped). Qt would abort the whole process, so the command lines say so first."""
    if not sys.platform.startswith("linux") or any(
        environ.get(name) for name in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    ):
        return None
    display = environ.get("DISPLAY")
    if not display:
        return "DISPLAY and WAYLAND_DISPLAY are unset"
    return None if _x_server_answers(display) else f"DISPLAY={display}, but no X server answers there"


def _x_server_answers(display: str) -> bool:
    """Whether something listens where DISPLAY ([protocol/][host]:N[.screen]) points, as libxcb looks:
    the server's local socket (abstract, or the file in /tmp/.X11-unix) and, for no host, TCP on
    localhost too (WSL with an X server on Windows); TCP port 6000 + N for localhost or an address (ssh
    -X forwards localhost:10 and up). A host name (a lookup that may take long) or a form not known here
    is left to Qt."""
    rest, _, screen = display.rpartition(":")
    host = rest.rpartition("/")[2].strip("[]")  # "tcp/localhost" -> "localhost", "[::1]" -> "::1"
    number = screen.split(".")[0]
    if not number.isdigit():
        return True
    if host in ("", "unix"):
        for address in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(1.0)
                try:
                    probe.connect(address)
                    return True
                except OSError:
                    continue
        if host == "unix":
            return False
        host = "127.0.0.1"
    if host != "localhost" and not _is_address(host):
        return True
    try:
        socket.create_connection((host, 6000 + int(number)), timeout=2.0).close()
        return True
    except OSError:
        return False


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False
