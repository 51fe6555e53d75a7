"""The Bot API method list (tests/contracts/telegram_bot_api.json) as a checker of calls.

Each call is checked the way Telegram would reject it: the method exists, every required field is
present, no field is unknown, and each value has one of the documented types, nested objects
(reply markup, command scopes, ...) checked field by field against their own type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[1] / "contracts" / "telegram_bot_api.json"
_INTEGER = re.compile(r"^-?\d+$")
_ATTACH = "attach://"
_CONSTANT = re.compile(r"(?:must be|always) [\"“]?([a-z_]+)[\"”]?\.?$")


class BotApiSpec:
    def __init__(self, path: Path = SPEC_PATH) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.version: str = data["version"]
        self.methods: dict[str, dict[str, Any]] = data["methods"]
        self.types: dict[str, dict[str, Any]] = data["types"]

    @cached_property
    def _by_lower_name(self) -> dict[str, str]:
        # Telegram matches method names case-insensitively.
        return {name.lower(): name for name in self.methods}

    def method(self, name: str) -> str | None:
        return self._by_lower_name.get(name.lower())

    def check_call(
        self, method: str, params: Mapping[str, str], files: Mapping[str, bytes]
    ) -> list[str]:
        """Problems with one call, as Telegram would word them; empty when it is fine.

        `params` are the form fields as sent (strings; JSON for arrays and objects), `files` the
        uploaded file parts by field name.
        """
        fields = {f["name"]: f for f in self.methods[method].get("fields", [])}
        problems = [
            f'Bad Request: unknown parameter "{name}"'
            for name in [*params, *files]
            if name not in fields and not _is_attachment(name, params)
        ]
        for name, field in fields.items():
            if name not in params and name not in files:
                if field["required"]:
                    problems.append(f'Bad Request: parameter "{name}" is required')
                continue
            if name in files:
                if "InputFile" not in field["types"]:
                    problems.append(f'Bad Request: parameter "{name}" does not take a file')
                continue
            problem = self._check_form_value(params[name], field["types"], files)
            if problem:
                problems.append(f'Bad Request: parameter "{name}": {problem}')
        return problems

    def _check_form_value(self, text: str, types: list[str], files: Mapping[str, bytes]) -> str:
        reasons = []
        for type_name in types:
            if type_name == "String":
                return ""
            if type_name == "InputFile":
                if text.startswith(_ATTACH) and text[len(_ATTACH) :] in files:
                    return ""
                reasons.append("not an attached file")
                continue
            if type_name == "Integer":
                if _INTEGER.match(text):
                    return ""
                reasons.append(f"{text!r} is not an integer")
                continue
            try:
                value = json.loads(text)
            except ValueError:
                reasons.append(f"{text[:40]!r} is not JSON for {type_name}")
                continue
            reason = self.check_value(value, type_name, files)
            if not reason:
                return ""
            reasons.append(reason)
        return "; ".join(reasons)

    def check_value(
        self, value: Any, type_name: str, files: Mapping[str, bytes] | None = None
    ) -> str:
        """Why a decoded JSON value is not of `type_name` ("" if it is)."""
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return f"expected {type_name}, got {type(value).__name__}"
            inner = type_name.removeprefix("Array of ")
            for item in value:
                reason = self.check_value(item, inner, files)
                if reason:
                    return reason
            return ""
        if type_name == "Integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return "" if ok else f"expected Integer, got {value!r}"
        if type_name == "Float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return "" if ok else f"expected Float, got {value!r}"
        if type_name in ("Boolean", "True"):
            return "" if isinstance(value, bool) else f"expected Boolean, got {value!r}"
        if type_name == "String":
            return "" if isinstance(value, str) else f"expected String, got {value!r}"
        if type_name == "InputFile":
            ok = isinstance(value, str) and value.startswith(_ATTACH)
            return "" if ok and value[len(_ATTACH) :] in (files or {}) else "file not attached"
        spec = self.types.get(type_name)
        if spec is None:
            return f"unknown type {type_name}"
        if "subtypes" in spec:
            reasons = [self.check_value(value, sub, files) for sub in spec["subtypes"]]
            return "" if "" in reasons else f"matches no kind of {type_name}: {reasons[0]}"
        return self._check_object(value, type_name, spec, files)

    def _check_object(
        self,
        value: Any,
        type_name: str,
        spec: dict[str, Any],
        files: Mapping[str, bytes] | None,
    ) -> str:
        if not isinstance(value, dict):
            return f"expected {type_name} object, got {type(value).__name__}"
        fields = {f["name"]: f for f in spec.get("fields", [])}
        for name in value:
            if name not in fields:
                return f'{type_name} has no field "{name}"'
        for name, field in fields.items():
            if name not in value:
                if field["required"]:
                    return f'{type_name} lacks required field "{name}"'
                continue
            reasons = [self.check_value(value[name], t, files) for t in field["types"]]
            if "" not in reasons:
                return f"{type_name}.{name}: {reasons[0]}"
            constant = _constant(field)
            if constant is not None and value[name] != constant:
                return f'{type_name}.{name} must be "{constant}"'
        return ""


def _constant(field: dict[str, Any]) -> str | None:
    """The fixed value of a discriminator field ("Scope type, must be all_private_chats")."""
    match = _CONSTANT.search(field.get("description", ""))
    return match.group(1) if match and field["types"] == ["String"] else None


def _is_attachment(name: str, params: Mapping[str, str]) -> bool:
    """A multipart part named by an attach://NAME reference in another field."""
    return any(f"{_ATTACH}{name}" in value for value in params.values())
