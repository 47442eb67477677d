"""`make lineage`: what is in production now, which versions a data md5 made, and how one
version was made, from the registry's records."""

from __future__ import annotations

from typing import Any

from ..settings import Settings
from . import production, registry


def lineage(
    settings: Settings, data_md5: str | None = None, number: int | None = None
) -> list[dict[str, Any]]:
    """Versions trained on a data md5, one version, or (by default) what is in production."""
    client = registry.connect()
    name = settings.tracking.model_name
    if data_md5:
        return [
            v.as_dict()
            for v in registry.all_versions(client, name)
            if v.tags.get("lineage.data_md5") == data_md5
        ]
    if number is not None:
        return [registry.get_version(client, name, number).as_dict()]
    serving = production.load(client, settings)
    return [] if serving is None else [serving.version.as_dict()]


def describe(version: dict[str, Any]) -> str:
    """A version in a few lines a person reads: what, from where, approved by whom."""
    tags = version["tags"]
    lines = [
        f"{version['name']} version {version['version']}"
        f" [{', '.join(version['aliases']) or 'no alias'}]",
        f"  trained from commit {tags.get('lineage.git_sha', '?')} (run {version['run_id']})",
        f"  data md5 {tags.get('lineage.data_md5', '?')}, "
        f"eval md5 {tags.get('lineage.eval_md5', '?')}",
        f"  params hash {tags.get('lineage.params_hash', '?')[:16]}, "
        f"gate {tags.get('gate.verdict', '?')}",
    ]
    for key, value in sorted(tags.items()):
        if key.startswith(("promotion.", "rollback.", "rolled_back.", "github.")):
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)
