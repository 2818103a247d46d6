"""argparse types of `python -m training` beyond recordings/argument_types.py: folders and files to write,
checked before any data is read or anything is written (a typo in --out is said at once, as a usage error
naming the option, not as an errno after minutes of work)."""

from __future__ import annotations

import argparse
from pathlib import Path

from recordings.argument_types import output_folder
from recordings.atomic import why_not_writable


def folder_to_write(text: str) -> Path:
    """A folder to write into (made when absent): not a file nor under one, and one where a file can be
    made (where it does not exist yet, in the nearest folder above it that does)."""
    path = output_folder(text)
    if (why := why_not_writable(path)) is not None:
        raise argparse.ArgumentTypeError(f"{text}: cannot be written ({why})")
    return path


def file_to_write(text: str) -> Path:
    """A file to write, in a folder that exists and takes new files: `ensemble` and `export` write under a
    temporary name beside it and rename, so the folder is what must allow it (not `output_file`, which
    also opens an existing file to append). A folder given as the file is left to the command, which
    suggests a file name in it."""
    path = Path(text)
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: folder {parent} does not exist")
    if (why := why_not_writable(parent)) is not None:
        raise argparse.ArgumentTypeError(f"{text}: cannot be written ({why})")
    return path
