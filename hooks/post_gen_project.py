"""Remove the parts of the generated project that the answers switched off.

One declarative table, no network, no side effects beyond the new folder.
"""

import json
import shutil
import tempfile
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

# path in the generated project -> kept only when this holds for the answers
OPTIONAL_PATHS = {
    "LICENSE": ANSWERS["license"] != "Proprietary",
}


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def forget_rendered_copy() -> None:
    """Delete this rendered copy of the hook: cookiecutter writes it to the temporary folder
    (with the answers inside) and never removes it, so every bake would leave one behind."""
    here = Path(__file__).resolve()
    if here.parent == Path(tempfile.gettempdir()).resolve():
        here.unlink(missing_ok=True)


if __name__ == "__main__":
    forget_rendered_copy()
    for relative, keep in OPTIONAL_PATHS.items():
        if not keep:
            remove(Path(relative))
