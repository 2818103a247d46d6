"""Label maps: a site's own action classes next to NTU RGB+D's 120.

A site keeps its classes in a text file in the same format as NTU's class-name lists
(../shared/data/ntu/ntu120_class_names.txt), one class per line::

    # St Mary's ward 3 (comments and blank lines are ignored)
    A121<TAB>patient fell
    A122<TAB>patient leaves bed

Site action ids start after NTU's (A121 and up), so a site clip's NTU-style sample name
(S...C...P...R...A121) never collides with an NTU class and one classifier can be fine-tuned on both.
The recorder names clips from this map and writes the label into each clip's sidecar; the training
dataset (training/datasets/clips.py) reads it with `read_label_map`; `python -m recordings list` merges
it with NTU's names (`LabelMap.merged`) to name NTU and site clips alike.
`ensure_label` gives a class's id, appending a new class (the next id, A121 and up) to the file when
it is not there yet; the file is rewritten atomically (recordings.atomic), never half-written.
"""

from __future__ import annotations

import difflib
import numbers
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.atomic import replace_atomically
from core.locks import held
from core.timeline import NO_ACTION, names_background
from recordings.ntu_samples import NTU120_CLASSES, SampleName

NTU_CLASS_COUNT = 120
FIRST_SITE_ACTION = NTU_CLASS_COUNT + 1
LABEL_MAP_FILENAME = "labels.txt"

_LINE = re.compile(r"^A(\d{3,})\t\s*(\S.*)$")


class LabelMapError(ValueError):
    """A label map file that does not follow the format; the message names the file and line."""


@dataclass(frozen=True)
class LabelMap:
    """Action ids (NTU's A-numbers) -> class names, in ascending id order."""

    names: dict[int, str]

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for action_id, name in self.names.items():
            if not isinstance(action_id, numbers.Integral) or not isinstance(name, str):  # swapped keys
                raise TypeError(f"a label map takes {{action id: class name}}, e.g. {{121: 'fell'}}; got "
                                f"{action_id!r}: {name!r}")
            if action_id < 1:
                raise ValueError(f"action ids start at 1, got {action_id}")
            if not name.strip():
                raise ValueError(f"action A{action_id:03d} has an empty name")
            if name in seen:
                raise ValueError(
                    f"class name {name!r} is used by both A{seen[name]:03d} and A{action_id:03d}"
                )
            seen[name] = action_id
        object.__setattr__(self, "names", dict(sorted(self.names.items())))

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, action_id: object) -> bool:
        return action_id in self.names

    @property
    def action_ids(self) -> list[int]:
        return list(self.names)

    @property
    def class_names(self) -> list[str]:
        """Names in id order: the classifier's output order when training on this map."""
        return list(self.names.values())

    def name(self, action_id: int) -> str:
        try:
            return self.names[action_id]
        except KeyError:
            raise KeyError(f"no class A{action_id:03d} in the label map") from None

    def named(self, label: str) -> int | None:
        """The id of the class named `label` however it is spelt (class_name_as_written), else None."""
        wanted = class_name_as_written(label)
        return next((i for i, name in self.names.items() if class_name_as_written(name) == wanted), None)

    def action_id(self, label: str | int) -> int:
        """The id of a class given by name ("patient fell"), A-number ("A121") or number (121)."""
        if isinstance(label, int):
            if label in self.names:
                return label
        else:
            wanted = class_name_as_written(label)
            named = self.named(wanted)
            match = re.fullmatch(r"A?(\d{1,})", wanted, re.IGNORECASE)
            numbered = int(match.group(1)) if match and int(match.group(1)) in self.names else None
            if named is not None and numbered is not None and named != numbered:
                # An older version let a class be named "a121": which one was meant cannot be told.
                raise LabelMapError(f"{label!r} is the name of A{named:03d} and the number of "
                                    f"A{numbered:03d}: give A{named:03d} or A{numbered:03d}")
            if named is not None or numbered is not None:
                return named if named is not None else numbered
        known = ", ".join(f"A{i:03d} {n!r}" for i, n in list(self.names.items())[:8])
        more = " ..." if len(self.names) > 8 else ""
        raise KeyError(f"unknown label {label!r}; the label map has {known}{more}")

    def class_index(self, action_id: int) -> int:
        """Position of an action among the map's classes (the training target)."""
        try:
            return self.action_ids.index(action_id)
        except ValueError:
            raise KeyError(f"no class A{action_id:03d} in the label map") from None

    def merged(self, other: LabelMap) -> LabelMap:
        """Both maps' classes; an action id in both must carry the same name. A name both use at other
        ids is `other`'s: a site class named like an NTU one ("falling", A121) is the class its clips
        carry, where NTU's (A043) is merged first."""
        taken = set(other.names.values())
        names = {action_id: name for action_id, name in self.names.items()
                 if name not in taken or other.names.get(action_id) == name}
        for action_id, name in other.names.items():
            if action_id in names and names[action_id] != name:
                raise ValueError(
                    f"A{action_id:03d} is {names[action_id]!r} in one label map and {name!r} in the other"
                )
            names[action_id] = name
        return LabelMap(names)


def parse_label_map(text: str, source: str = "<label map>", *, site: bool = True) -> LabelMap:
    """Parse the `A121<TAB>name` format. With site=True ids must be >= A121 (NTU owns 1..120)."""
    names: dict[int, str] = {}
    written: dict[str, int] = {}  # each name as compared (class_name_as_written) -> its line
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise LabelMapError(
                f"{source}: line {number}: expected 'A<number><TAB><class name>', got {line!r}"
            )
        action_id, name = int(match.group(1)), match.group(2).strip()
        if site and action_id < FIRST_SITE_ACTION:
            raise LabelMapError(
                f"{source}: line {number}: site classes start at A{FIRST_SITE_ACTION} (NTU RGB+D "
                f"owns A001-A{NTU_CLASS_COUNT:03d}), got A{action_id:03d}"
            )
        if action_id > 999:  # a clip's name holds three digits: a larger number names no clip
            raise LabelMapError(f"{source}: line {number}: A-numbers go up to A999, got A{action_id}")
        if action_id in names:
            raise LabelMapError(f"{source}: line {number}: A{action_id:03d} is listed twice")
        if (first := written.get(class_name_as_written(name))) is not None:  # "Café" typed two ways too
            # Spelt apart in the file, they print alike: the code points say which line is which.
            spelt = f" ({ascii(name)} here)" if not name.isascii() else ""
            raise LabelMapError(f"{source}: line {number}: class name {name!r}{spelt} is listed twice (line "
                                f"{first} too); delete one of the two lines: the clips and intervals of its "
                                f"class then join the other's")
        names[action_id], written[class_name_as_written(name)] = name, number
    return LabelMap(names)


def read_label_map(path: Path | str, *, site: bool = True) -> LabelMap:
    """Read a site label map (site=True) or an NTU class-name list (site=False)."""
    path = Path(path)
    return parse_label_map(read_label_text(path), str(path), site=site)


def read_label_text(path: Path) -> str:
    """A label file's text: UTF-8, with or without the BOM Windows editors write (LabelMapError else)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (PermissionError, IsADirectoryError) as error:  # another account's: was a traceback, exit 1
        raise LabelMapError(f"{path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise LabelMapError(f"{path}: byte {error.start}: not UTF-8 text (save it as UTF-8: a line per "
                            f"class, A121<TAB>name)") from None


def write_label_map(path: Path | str, label_map: LabelMap, header: str = "") -> None:
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"A{action_id:03d}\t{name}" for action_id, name in label_map.names.items()]
    replace_atomically(path, ("\n".join(lines) + "\n").encode("utf-8"))


def ensure_label(path: Path | str, label: str, *, similar_ok: bool = True) -> tuple[LabelMap, int, bool]:
    """The site label map at `path` with `label` in it: (map, the class's action id, whether it was
    added). A known class is given by name or A-number; an unknown name is appended with the next
    free id (A121 and up), keeping the file's comments and lines as they are. The file is created when
    absent. `similar_ok=False` refuses a new name close to a known one (a typo would otherwise become a
    class of its own, with clips nobody trains on as what was meant): `recordings label` and a
    recording's `--label` (live) ask for it unless --new-class is given; F1-F9 in the window choose
    known classes."""
    path = Path(path)
    label_map, _, known_id = _find_label(path, label, similar_ok)
    if known_id is not None:  # nothing to write: no lock (labels.txt may sit on a read-only share)
        return label_map, known_id, False
    path.parent.mkdir(parents=True, exist_ok=True)
    # Read and rewritten under a lock: a window marking an action and `recordings label` adding a
    # class at the same moment would otherwise both take the same A-number, and one name would be lost.
    with held(path.with_name(path.name + ".lock")):
        label_map, text, known_id = _find_label(path, label, similar_ok)
        if known_id is not None:  # the other process added it
            return label_map, known_id, False
        # Above the clips' numbers too: a labels.txt cut short (or restored from an older copy) has lost
        # classes its folder's clips are still named by, and a new class must not take one of them.
        action_id = max([FIRST_SITE_ACTION - 1, *label_map.action_ids, *_clip_actions(path.parent)]) + 1
        if text and not text.endswith("\n"):
            text += "\n"
        text += f"A{action_id:03d}\t{class_name_as_written(label)}\n"
        updated = parse_label_map(text, str(path), site=True)  # checked before anything is written
        replace_atomically(path, text.encode("utf-8"))
    return updated, action_id, True


def _clip_actions(folder: Path) -> list[int]:
    """The A-numbers the NTU-named clips in `folder` carry."""
    actions = []
    for skeleton in folder.glob("*.skeleton"):
        try:
            actions.append(SampleName.parse(skeleton.stem).action)
        except ValueError:  # live_<time> and other names: no number
            pass
    return actions


def check_label(path: Path | str, label: str, *, similar_ok: bool = False, added_before: Sequence[str] = ()
                ) -> None:
    """LabelMapError where `ensure_label` would refuse `label`; writes nothing. For checking a class
    given at start-up (live --label) before anything is opened or recorded; `added_before`: new classes
    to be added before it (the earlier of several in one command), as labels.txt will hold them then."""
    _find_label(Path(path), label, similar_ok, added_before)


def _find_label(path: Path, label: str, similar_ok: bool, added_before: Sequence[str] = ()
                ) -> tuple[LabelMap, str, int | None]:
    """(the map at `path`, its text, `label`'s action id or None for an acceptable new name)."""
    text = read_label_text(path) if path.is_file() else ""
    label_map = parse_label_map(text, str(path), site=True)
    name = class_name_as_written(label)
    if names_background(name):  # "No_Action" too: learnt beside no_action, it competed with it
        raise LabelMapError(f"{path}: {label!r} is the background ({NO_ACTION!r}: everything outside the "
                            "intervals), not a class to label")
    try:
        return label_map, text, label_map.action_id(name)
    except KeyError:
        pass
    added = [class_name_as_written(other) for other in added_before]
    if name in added:
        return label_map, text, None
    if not name:
        raise LabelMapError(f"{path}: a class name must be non-empty text, got {label!r}")
    if (unwritable := unwritable_character(name)) is not None:
        raise LabelMapError(f"{path}: a class name must be text without tabs, line breaks or invisible "
                            f"characters; {label!r} has {unwritable}")
    if re.fullmatch(r"A?\d+", name, re.IGNORECASE):
        raise LabelMapError(f"{path}: no class {name} in the label map; name a new class by its name, "
                            f"not by a number")
    if not similar_ok and name not in NTU120_CLASSES:
        # NTU's names too: "handshakin" is a typo of A058's whether or not the site has that class yet;
        # NTU's name exactly is a site class of that name, as asked, and no typo of its neighbours
        # ("hugging other person", the real-data model's class, was refused as close to "pushing ...").
        close = similar_names(name, [*NTU120_CLASSES, *label_map.names.values(), *added])
        if close:
            raise LabelMapError(f"{path}: no class {name!r}; did you mean "
                                f"{' or '.join(map(repr, close))}? (--new-class adds it as a new class all "
                                "the same)")
    return label_map, text, None


def class_name_as_written(label: str) -> str:
    """A class name as labels.txt keeps it and names are compared: without the spaces around it, in
    Unicode's compatibility composed form, where what looks the same is the same (a Mac's file names give
    "Café" as e + a combining accent, which was a second class beside the é typed elsewhere; a
    non-breaking space is a space, a full-width Ｆ an F)."""
    return unicodedata.normalize("NFKC", label).strip()


# Format characters (Cf) show nothing, yet "fall<U+200B>down" or "fall<soft hyphen>down" was a class of
# its own beside "falldown", and U+202E turns the name around on screen. These are the ones words need:
# the zero-width (non-)joiners (Persian, the Indic scripts, emoji), the marks of direction between
# Arabic or Hebrew and digits, Arabic's number signs, emoji's tag characters (a flag's region).
_FORMAT_IN_WORDS = {"\u200c", "\u200d", "\u200e", "\u200f", "\u061c", *map(chr, range(0x600, 0x606))}
_COMBINING_GRAPHEME_JOINER = "\u034f"  # a combining mark that shows nothing either


def _unwritable(character: str) -> bool:
    """Whether `character` cannot be in a class name: a tab or a line break of any kind (\\r, \\f, U+2028
    split labels.txt's line), another control character (an escape), or an invisible one."""
    # Not "Cn" (not assigned): a character newer than this Python's Unicode (a new emoji) is assigned.
    category = unicodedata.category(character)
    if category == "Cf":
        return character not in _FORMAT_IN_WORDS and not 0xE0020 <= ord(character) <= 0xE007F
    return category in ("Cc", "Zl", "Zp", "Cs", "Co") or character == _COMBINING_GRAPHEME_JOINER


def unwritable_character(name: str) -> str | None:
    """The first character a name on one line of text cannot hold (`_unwritable`), as "U+000A (LINE
    FEED)"; None when it has none. For class names and the app's room name, which heads every alert."""
    character = next((c for c in name if _unwritable(c)), None)
    if character is None:
        return None
    return f"U+{ord(character):04X} ({unicodedata.name(character, 'a control character')})"


def similar_names(name: str, known: Iterable[str]) -> list[str]:
    """The known class names `name` is most likely a typo of (case aside; up to three, closest first):
    close by difflib's measure, or one character added, dropped or changed. The second is for short
    names: 病人摔到 for 病人摔倒 (four characters, one wrong) scores 0.75, under difflib's 0.8, and became a
    class of its own, splitting the clips of one action in two."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.8)
    one_off = [k for k in lowered if k not in close and _one_edit_apart(name.lower(), k)]
    return [lowered[c] for c in [*close, *one_off][:3]]


def _one_edit_apart(typed: str, known: str) -> bool:
    """Whether one character added, dropped or changed turns `typed` into `known`: from four characters
    on (躺下 and 坐下, lie down and sit down, are two classes one character apart) and not one digit for
    another (bed 2 beside bed 1 is meant)."""
    if len(typed) < 4 or abs(len(typed) - len(known)) > 1 or typed == known:
        return False
    if len(typed) == len(known):
        changed = [(a, b) for a, b in zip(typed, known, strict=True) if a != b]
        return len(changed) == 1 and not (changed[0][0].isdigit() and changed[0][1].isdigit())
    shorter, longer = sorted((typed, known), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


# Past forms a class name may use where a model's uses the verb ("patient fell", fall_down).
_IRREGULAR = {"fell": "fall", "fallen": "fall", "drank": "drink", "drunk": "drink", "stood": "stand",
              "threw": "throw", "thrown": "throw", "woke": "wake", "lying": "lie", "lay": "lie",
              "took": "take", "taken": "take", "taking": "take", "making": "make", "putting": "put",
              "getting": "get", "using": "use"}
# Words that say where or with what, not which action: "turn left" is not drink_left, "lies down" not
# sit_down; and verbs too general to tell ("take pills" is not "take off a shoe").
_NOT_THE_ACTION = {"left", "right", "down", "up", "other", "each", "person", "people", "something", "with",
                   "from", "into", "onto", "over", "front", "back", "hand", "hands", "head", "touch",
                   "paper", "object", "and", "the", "off", "out", "take", "put", "get", "make", "use",
                   "one", "two", "both", "patient"}


def _stems(text: str, actions_only: bool = True) -> set[str]:
    """The words of a class name reduced to their stem (sitting -> sit, waves -> wave, fell -> fall);
    `actions_only`: only those that can tell its action."""
    stems = set()
    for word in re.split(r"[^a-z]+", text.lower()):
        stem = _IRREGULAR.get(word) or re.sub(r"(ing|ed|s)$", "", word) if len(word) > 3 else word
        if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":  # sitt -> sit, runn -> run
            stem = stem[:-1]
        if len(stem) >= 3 and not (actions_only and (word in _NOT_THE_ACTION or stem in _NOT_THE_ACTION)):
            stems.add(stem)
    return stems


def related_names(name: str, known: Iterable[str]) -> list[str]:
    """The known class names that share an action word with `name` ("patient fell" and fall_down,
    "drinking" and drink_right), the closest first (most action words shared, then most words: "taking
    off a shoe" is nearer "take off a shoe" than "wear a shoe"): likely the same action under another
    name, where similar_names finds typos of the whole name."""
    def alike(a: str, b: str) -> bool:  # wave / wav(ing); not hand / handshak
        short, long = sorted((a, b), key=len)
        return long.startswith(short) and len(short) >= 0.75 * len(long)

    def shared(k: str, actions_only: bool) -> int:
        return sum(any(alike(a, b) for b in _stems(k, actions_only)) for a in _stems(name, actions_only))

    related = [k for k in known if shared(k, True)]
    return sorted(related, key=lambda k: (-shared(k, True), -shared(k, False)))


def ntu_label_map(class_names: list[str]) -> LabelMap:
    """NTU's names as a list (index 0 = A001) as a label map."""
    return LabelMap({i + 1: name for i, name in enumerate(class_names)})


def in_columns(name: str, width: int) -> str:
    """A class name cut and padded to `width` terminal columns, for a table's class column: a CJK
    character takes two columns, so padding by characters pushed the rest of its row right."""
    kept, used = "", 0
    for character in name:
        columns = columns_of(character)
        if used + columns > width:
            break
        kept, used = kept + character, used + columns
    return kept + " " * (width - used)


def columns_of(name: str) -> int:
    """How many terminal columns `name` takes (in_columns' measure)."""
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in name)
