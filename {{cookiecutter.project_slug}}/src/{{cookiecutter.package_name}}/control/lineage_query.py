"""`make lineage`: what is in production now, which versions a data md5 made, and how one
version was made, from the registry's records."""

from __future__ import annotations

from typing import Any

from ..settings import Settings
from ..vocabulary import DATA_MD5, EVAL_MD5, GATE_VERDICT, GIT_SHA, PARAMS_HASH, RECORD_PREFIXES
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
            if v.tags.get(DATA_MD5) == data_md5
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
        f"  trained from commit {tags.get(GIT_SHA, '?')} (run {version['run_id']})",
        f"  data md5 {tags.get(DATA_MD5, '?')}, eval md5 {tags.get(EVAL_MD5, '?')}",
        f"  params hash {tags.get(PARAMS_HASH, '?')[:16]}, gate {tags.get(GATE_VERDICT, '?')}",
    ]
    for key, value in sorted(tags.items()):
        if key.startswith(RECORD_PREFIXES):
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)
