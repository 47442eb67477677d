"""The one way the project reads YAML: params.yaml, data/contract.yaml, deploy/production.yaml,
DVC's pointer files and values typed on the command line.

PyYAML's safe loader, refusing two things it accepts silently: a key written twice (the last
one would win, so a reviewer reading the first is misled) and aliases (`*name`, which a few
lines can nest into billions of values and hang the job). Neither has a use in these files.
"""

from __future__ import annotations

from typing import Any

import yaml


class Refused(yaml.YAMLError):
    """YAML that reads, but not as anyone reviewing it would read it."""


class StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise Refused(
                f"line {event.start_mark.line + 1}: an alias (*{event.anchor}) is not allowed "
                "in this file: write the value out"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # SafeLoader refuses a key that is not a plain value itself
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise Refused(
                    f"line {line}: the key {key!r} is written twice (first on line "
                    f"{first_line[key]}): keep one"
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """The YAML document in `text`, read safely and strictly (see the module's docstring)."""
    return yaml.load(text, Loader=StrictLoader)


def compose(text: str) -> yaml.Node | None:
    """The document's node tree (for reading scalars as written), with aliases refused."""
    return yaml.compose(text, Loader=StrictLoader)
