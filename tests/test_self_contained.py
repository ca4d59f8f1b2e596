"""The repository stands alone: no tracked file reads or names a path outside it.

A clone made anywhere (with nothing beside it) must pass its tests and read true: the
format contracts live in docs/formats/, the clinical reference tables in tests/reference/.
A reference to a sibling folder of the first workspace once made every fresh clone
fail; this test runs the same ``git grep`` a reviewer would, so it cannot come back.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The sibling folder of the original workspace, in any of the ways it was named. The
# pieces are split so that this file does not match its own pattern.
OUTSIDE_PATHS = r"\.\./shared|" + '"shar' + 'ed" */|' + r"shared/(standards|formats)|STYLE\.md"
# Helpers under tests/ and docs/ that a fresh clone must find inside the repository.
REQUIRED = (
    "docs/formats/roster.md",
    "docs/formats/results.md",
    "docs/formats/evaluation.md",
    "tests/reference/README.md",
)


def _git_grep(pattern: str) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        ["git", "grep", "-nE", pattern, "--", ".", ":!*.po", ":!*.pot"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr  # 1 = no match
    return done.stdout.splitlines()


def test_no_tracked_file_names_a_path_outside_the_repository():
    assert _git_grep(OUTSIDE_PATHS) == []


def test_the_pattern_matches_each_way_the_outside_folder_was_named():
    """The pattern is not vacuous (the examples are split so that git grep skips them)."""
    for line in (
        'SHARED = ROOT / "sha' + 'red" / "standards"',
        "see ../" + "shared/x.md",
        "columns of shared/" + "formats/roster.md",
        "shared/" + "standards/README.md §1.2",
        "STYLE" + ".md §3",
    ):
        assert re.search(OUTSIDE_PATHS, line), line


def test_the_documents_the_code_points_at_are_in_the_repository():
    for name in REQUIRED:
        assert (ROOT / name).is_file(), name
    assert len(list((ROOT / "tests" / "reference").glob("*.csv"))) == 7
