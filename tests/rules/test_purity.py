"""The rules core stays pure: stdlib only, no Flask, no SQLAlchemy, no models."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import schoolhealth.rules

RULES_DIR = Path(schoolhealth.rules.__file__).resolve().parent
FORBIDDEN = ("flask", "flask_sqlalchemy", "sqlalchemy", "schoolhealth.models", "rcpchgrowth")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=RULES_DIR.parents[1],
        timeout=60,
        check=False,
    )


def test_rules_modules_import_only_the_standard_library():
    for path in sorted(RULES_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top == "__future__" or top in sys.stdlib_module_names, (path.name, name)


def test_rules_package_imports_nothing_forbidden_in_a_fresh_interpreter():
    # Stand the parent package in with an empty one so that only schoolhealth.rules
    # itself is measured (the next test covers the real parent package).
    result = run(f"""
        import sys, types
        parent = types.ModuleType("schoolhealth")
        parent.__path__ = [{str(RULES_DIR.parent)!r}]
        sys.modules["schoolhealth"] = parent
        import schoolhealth.rules
        from schoolhealth.rules import evaluate, parse_measurements
        bad = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))
        print(",".join(bad))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_import_schoolhealth_rules_does_not_load_flask():
    result = run("""
        import sys
        import schoolhealth.rules
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in
                              ("flask", "sqlalchemy", "flask_sqlalchemy"))))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
