"""``genmm new-plugin NAME``: a working plugin package (what it holds: docs/cli.md)."""

from __future__ import annotations

import re
from pathlib import Path

from genmm.errors import GenmmError

#: the package's files, ``__name__`` standing for the plugin's name (package data)
TEMPLATES = Path(__file__).resolve().parent / "templates" / "plugin"


def write_plugin(name: str, directory: Path) -> Path:
    """Write ``directory/genmm-<name>/``; an existing folder is never overwritten."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise GenmmError(f"plugin name '{name}': use lower-case letters, digits and '_'")
    folder = Path(directory) / f"genmm-{name}"
    if folder.exists():
        raise GenmmError(f"{folder} already exists; nothing was overwritten")
    for template in sorted(TEMPLATES.rglob("*.tmpl")):
        relative = str(template.relative_to(TEMPLATES)).removesuffix(".tmpl")
        path = folder / relative.replace("__name__", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.read_text(encoding="utf-8").replace("__name__", name), "utf-8")
    return folder
