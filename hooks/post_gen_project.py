"""Remove the parts of the generated project that the answers switched off.

One declarative table, no network, no side effects beyond the new folder.
"""

import json
import shutil
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


if __name__ == "__main__":
    for relative, keep in OPTIONAL_PATHS.items():
        if not keep:
            remove(Path(relative))
