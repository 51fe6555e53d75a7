"""A test copy of Twilio's OpenAPI description that Prism can hold the client to.

Prism decodes a form field sent once as a string and then rejects it where the spec says array
("must be array", stoplightio/prism#2473); Twilio itself accepts one `MediaUrl` (or
`PersistentAction`) as readily as several. The copy lets those fields be a string or an array;
nothing else changes. Run as a script: `python -m tests.contract.twilio_spec SOURCE TARGET`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SPEC = Path(__file__).parent / "twilio" / "twilio_api_v2010.json"
REPEATABLE_FIELDS = ("MediaUrl", "PersistentAction")


def lenient(spec: dict[str, Any]) -> int:
    """Lets the repeatable form fields be a string or an array, in place; returns how many."""
    changed = 0
    for operations in spec["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            for content in operation["requestBody"]["content"].values():
                properties = content.get("schema", {}).get("properties", {})
                for name in REPEATABLE_FIELDS:
                    field = properties.get(name)
                    if field is None or field.get("type") != "array":
                        continue
                    properties[name] = {
                        "description": field.get("description", ""),
                        "anyOf": [
                            field["items"],
                            {k: v for k, v in field.items() if k != "description"},
                        ],
                    }
                    changed += 1
    return changed


def write_lenient_copy(target: Path, source: Path = SPEC) -> Path:
    spec = json.loads(source.read_text(encoding="utf-8"))
    if not lenient(spec):
        raise ValueError(f"{source} has no MediaUrl or PersistentAction array to relax")
    target.write_text(json.dumps(spec), encoding="utf-8")
    return target


if __name__ == "__main__":
    source, target = (Path(arg) for arg in sys.argv[1:3])
    write_lenient_copy(target, source)
