"""The program's working folder: writing the program into it and removing it afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable

from benchlab.tasks.sandbox.host import PROGRAM_NAME


def stage_program(folder: str, program: str) -> None:
    path = os.path.join(folder, PROGRAM_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(program)
    os.chmod(path, 0o644)


def remove_tree(path: str) -> None:
    """Remove a working folder even where the program took away its own permissions."""

    def fix(function: Callable[..., object], target: str, _info: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            function(target)

    shutil.rmtree(path, onerror=fix)
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)
