"""Stop the bake with one clear line when an answer would break code, paths, TOML or YAML.

Answers arrive as data (a JSON literal rendered by cookiecutter), never as code.
Runs before any file is written; no network, no side effects but removing its own rendered copy.
"""

import json
import keyword
import re
import sys
import tempfile
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

GITHUB_USER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
GITHUB_TEAM = GITHUB_USER + r"/[A-Za-z0-9][A-Za-z0-9_-]{0,99}"

# answer -> (pattern the whole answer must match, what is allowed, in words)
RULES = {
    "project_slug": (
        r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*",
        "lowercase letters, digits and single hyphens, starting with a letter",
    ),
    "package_name": (
        r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*",
        "a Python identifier in lowercase letters, digits and single underscores",
    ),
    "model_name": (
        r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}",
        "letters, digits, '_', '.' and '-', starting with a letter or digit, at most 100",
    ),
    "github_repository": (
        GITHUB_USER + r"/(?!\.\.?$)[A-Za-z0-9_.-]{1,100}",
        "owner/name as on GitHub, for example acme/credit-model",
    ),
    "model_owner": (GITHUB_USER, "a GitHub user name without '@'"),
    "risk_approver": (
        rf"{GITHUB_USER}|{GITHUB_TEAM}",
        "a GitHub user name or org/team-slug, without '@'",
    ),
}

FREE_TEXT = ("project_name", "description")
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def problems(answers: dict) -> list[str]:
    """Every answer that is not allowed, one line each, root causes first.

    Later answers default from earlier ones (project_name -> project_slug -> package_name,
    model_name, github_repository), so the first problem is the one the person must fix.
    """
    found = []
    for name in FREE_TEXT:
        value = answers[name]
        if not value.strip():
            found.append(f"{name} is empty: write a few words.")
        elif CONTROL_CHARACTER.search(value):
            found.append(f"{name}={value!r} holds control characters: use plain text.")
    for name, (pattern, allowed) in RULES.items():
        value = answers[name]
        if not re.fullmatch(pattern, value):
            found.append(f"{name}={value!r} is not valid: use {allowed}.")
    if keyword.iskeyword(answers["package_name"]):
        found.append(f"package_name={answers['package_name']!r} is a Python keyword.")
    return found


def forget_rendered_copy() -> None:
    """Delete this rendered copy of the hook: cookiecutter writes it to the temporary folder
    (with the answers inside) and never removes it, so every bake would leave one behind."""
    here = Path(__file__).resolve()
    if here.parent == Path(tempfile.gettempdir()).resolve():
        here.unlink(missing_ok=True)


if __name__ == "__main__":
    forget_rendered_copy()
    errors = problems(ANSWERS)
    if errors:
        # One line: the rest are usually the same mistake carried into derived answers.
        print(f"ERROR: {errors[0]}", file=sys.stderr)
        sys.exit(1)
