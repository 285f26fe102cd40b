"""Checks raw JSON response bodies against botocore's GuardDuty model (the installed service-2.json).

Every key must be a modelled member's wire name, every value of the member's type, recursively;
no nulls; required members present; enum strings within the enum; lists within their max length.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache

import botocore.session
from botocore.model import OperationModel, Shape

# Error bodies: the current model names the members `message` and `type`; the 2020 model (and the
# real service on the wire) used `__type`. Decision in docs/api.md#model-versions: emit `__type`, `type` allowed too.
ERROR_BODY_KEYS = {"message", "__type", "type"}


@lru_cache(maxsize=1)
def service_model():
    return botocore.session.get_session().get_service_model("guardduty")


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def wire_name(member_name: str, member: Shape) -> str:
    return member.serialization.get("name", member_name)


def body_members(shape: Shape) -> dict[str, tuple[str, Shape]]:
    """wire name -> (member name, shape) for members carried in the JSON body."""
    return {
        wire_name(name, member): (name, member)
        for name, member in shape.members.items()
        if member.serialization.get("location") is None
    }


def check_value(shape: Shape, value, path: str, errors: list[str]) -> None:
    if value is None:
        errors.append(f"{path}: null (absent members must be omitted)")
        return
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected object ({shape.name}), got {type(value).__name__}")
            return
        members = body_members(shape)
        for key, item in value.items():
            if key not in members:
                errors.append(f"{path}.{key}: not a member of {shape.name} (members: {sorted(members)})")
                continue
            check_value(members[key][1], item, f"{path}.{key}", errors)
        present = {members[k][0] for k in value if k in members}
        for required in shape.required_members:
            if required in shape.members and shape.members[required].serialization.get("location") is None \
                    and required not in present:
                errors.append(f"{path}: required member {wire_name(required, shape.members[required])} missing")
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(f"{path}: expected array ({shape.name}), got {type(value).__name__}")
            return
        max_len = shape.metadata.get("max")
        if max_len is not None and len(value) > max_len:
            errors.append(f"{path}: {len(value)} elements, model max {max_len}")
        for i, item in enumerate(value):
            check_value(shape.member, item, f"{path}[{i}]", errors)
    elif kind == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected object (map {shape.name}), got {type(value).__name__}")
            return
        for key, item in value.items():
            check_value(shape.key, key, f"{path}<key {key!r}>", errors)
            check_value(shape.value, item, f"{path}[{key!r}]", errors)
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected string ({shape.name}), got {type(value).__name__} {value!r}")
        elif shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in enum {shape.name} {shape.enum}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected boolean, got {type(value).__name__} {value!r}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: expected integer ({kind}), got {type(value).__name__} {value!r}")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            errors.append(f"{path}: expected number ({kind}), got {type(value).__name__} {value!r}")
    elif kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        if fmt == "unixTimestamp":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(f"{path}: timestamp must be epoch seconds (JSON number), got {value!r}")
        elif not isinstance(value, str):
            errors.append(f"{path}: timestamp ({fmt}) must be a string, got {value!r}")
    elif kind == "blob":
        if not isinstance(value, str):
            errors.append(f"{path}: blob must be base64 text, got {type(value).__name__}")
    else:
        errors.append(f"{path}: unhandled model type {kind}")


def check_response(operation_name: str, status: int, body: bytes) -> list[str]:
    """Violations of the model by one raw response (empty list = conforms)."""
    op = operation(operation_name)
    errors: list[str] = []
    if status >= 300:
        try:
            doc = json.loads(body)
        except ValueError:
            return [f"{operation_name} error {status}: body is not JSON: {body[:200]!r}"]
        if not isinstance(doc, dict):
            return [f"{operation_name} error {status}: body is not an object"]
        extra = set(doc) - ERROR_BODY_KEYS
        if extra:
            errors.append(f"{operation_name} error: unexpected keys {sorted(extra)}")
        if not isinstance(doc.get("message"), str):
            errors.append(f"{operation_name} error: `message` missing or not a string: {doc!r}")
        if not isinstance(doc.get("__type"), str):
            errors.append(f"{operation_name} error: `__type` missing or not a string: {doc!r}")
        return errors
    output = op.output_shape
    members = body_members(output) if output is not None else {}
    if not members:
        if body.strip() not in (b"", b"{}"):
            errors.append(f"{operation_name}: output has no body members but body is {body[:200]!r}")
        return errors
    try:
        doc = json.loads(body)
    except ValueError:
        return [f"{operation_name}: body is not JSON: {body[:200]!r}"]
    check_value(output, doc, operation_name, errors)
    return errors
