"""Asana's response schemas as a check on what an emulator answers.

`ResponseContract` validates one answer against the schema the official OpenAPI
spec documents for its route and status (the vendored `asana_openapi_responses.json`).
The spec is OpenAPI 3.0; its schemas become JSON Schema (2020-12) here:
- `nullable: true` means "or null", also where the spec writes it beside or inside
  `allOf` (`{allOf: [X], nullable: true}`, `allOf: [X, {nullable: true}]`).
- `allOf` compositions of objects are merged into one object, so that a property
  the spec does not document anywhere in the composition is reported too.
- `required` is dropped: with `opt_fields` every field is optional, and Asana's
  response schemas require nothing else.
Errors (any status from 400) answer `ErrorResponse`, whatever the route.

`ContractRecorder` is an emulator observer (see `asana_sync_pipeline.emulator.observe`)
that keeps the exchanges and validates them when asked, off the server's event loop.
`asana_response_contract` is an autouse pytest fixture that records every emulator
of the process during a test and fails the test at teardown on any violation.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from asana_sync_pipeline.emulator.observe import Exchange, observing

VENDORED = Path(__file__).with_name("asana_openapi_responses.json")
DEFS = "urn:asana-openapi-responses"
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
ANNOTATIONS = frozenset({"readOnly", "writeOnly", "deprecated", "required", "nullable", "title"})
formats = FormatChecker(formats=())


@formats.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value)) and len(value) == 10


@formats.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(DATE_TIME.match(value)) and bool(datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")))


@formats.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or "@" in value


def _apply_errata(document: dict[str, Any]) -> None:
    for erratum in document["errata"]:
        node: Any = document
        for part in erratum["pointer"].strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]  # JSON Pointer's escapes (RFC 6901)
        node.update(erratum["merge"])


class SchemaConverter:
    """OpenAPI 3.0 schemas to JSON Schema 2020-12, objects closed to undocumented properties.

    `full_forms` ({"TaskCompact": "TaskResponse", ...}) stands a full schema in for a compact
    one wherever a record is referenced (not where schemas compose): what opt_fields allows."""

    def __init__(self, schemas: dict[str, Any], defs_uri: str, full_forms: dict[str, str] | None = None):
        self.schemas = schemas
        self.defs_uri = defs_uri
        self.full_forms = full_forms or {}
        self.converted: dict[str, Any] = {}
        self._in_progress: set[str] = set()

    def component(self, name: str) -> dict[str, Any]:
        if name not in self.converted:
            if name in self._in_progress:
                raise ValueError(f"allOf cycle through {name}")
            self._in_progress.add(name)
            self.converted[name] = self.convert(self.schemas[name], composing=True)
            self._in_progress.discard(name)
        return self.converted[name]

    def all_components(self) -> dict[str, Any]:
        for name in self.schemas:
            self.component(name)
        return self.converted

    def convert(self, node: dict[str, Any], composing: bool = False) -> dict[str, Any]:
        node = dict(node)
        nullable = bool(node.pop("nullable", False))
        if "$ref" in node:
            name = node.pop("$ref").rsplit("/", 1)[1]
            result: dict[str, Any] = {"$ref": f"{self.defs_uri}#/$defs/{name if composing else self.full_forms.get(name, name)}"}
        elif "allOf" in node:
            members = [dict(member) for member in node.pop("allOf")]
            nullable = any([member.pop("nullable", False) for member in members]) or nullable
            result = self._merge([*members, node], composing)
            node = {}
        else:
            result = {}
        for key, value in node.items():
            if key in ANNOTATIONS or key.startswith("x-"):
                continue
            if key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
                result[key] = self.convert(value)
            elif key == "properties":
                result[key] = {name: self.convert(schema) for name, schema in value.items()}
            elif key in ("anyOf", "oneOf"):
                result[key] = [self.convert(member) for member in value]
            else:
                result[key] = value
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        if nullable:
            return {"anyOf": [result, {"type": "null"}]}
        return result

    def _merge(self, members: list[dict[str, Any]], composing: bool = False) -> dict[str, Any]:
        """One schema for `allOf` members: an object's properties united, other constraints kept.
        A lone `$ref` is a reference to a record where a property holds it, but the schema's own
        base where a component is made of it (`TaskTemplateBase: allOf: [TaskTemplateCompact]`)."""
        substantial = [member for member in members if self._substantial(member)]
        if len(substantial) == 1 and "$ref" in substantial[0]:
            return self.convert(substantial[0], composing=composing)
        converted = [self.convert(member, composing=True) for member in substantial]
        if len(converted) == 1:
            return converted[0]
        expanded = [self._expand(schema) for schema in converted]
        if not any("properties" in schema for schema in expanded):
            return {"allOf": converted}
        merged: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
        for schema in expanded:
            for name, prop in schema.get("properties", {}).items():
                known = merged["properties"].get(name)
                merged["properties"][name] = prop if known is None or known == prop else {"allOf": [known, prop]}
        return merged

    def _expand(self, schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return self._expand(self.component(schema["$ref"].rsplit("/", 1)[1]))
        return schema

    @staticmethod
    def _substantial(member: dict[str, Any]) -> bool:
        """False for a member that only annotates (`{type: object, readOnly: true}` beside a $ref)."""
        return any(key not in ANNOTATIONS and key != "type" and not key.startswith("x-") for key in member)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]


class _Schemas:
    """The converted schemas of one mode (records as documented, or as opt_fields may widen them)."""

    def __init__(self, document: dict[str, Any], defs_uri: str, full_forms: dict[str, str]):
        converter = SchemaConverter(document["schemas"], defs_uri, full_forms)
        self.responses = {
            key: {status: converter.convert(schema) for status, schema in responses.items()}
            for key, responses in document["routes"].items()
        }
        error = converter.convert({"$ref": "#/components/schemas/ErrorResponse"})
        resource = Resource.from_contents({"$defs": converter.all_components()}, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(defs_uri, resource)
        self.error = self.validator(error)
        self.validators: dict[tuple[str, str], Draft202012Validator] = {}

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        return Draft202012Validator(schema, registry=self.registry, format_checker=formats)

    def for_route(self, key: str, status: str) -> Draft202012Validator:
        found = self.validators.get((key, status))
        if found is None:
            found = self.validators.setdefault((key, status), self.validator(self.responses[key][status]))
        return found


class ResponseContract:
    """The documented response schema of each (method, route, status), and a check of a body against it.

    With `opt_fields` in the request, records may carry any field of their full form."""

    def __init__(self, path: Path = VENDORED):
        document = json.loads(path.read_text())
        _apply_errata(document)
        self.source = document["source"]
        self.routes: list[Route] = []
        for key in document["routes"]:
            method, template = key.split(" ", 1)
            pattern = re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$")
            self.routes.append(Route(method, template, pattern))
        self.routes.sort(key=lambda route: (-route.template.count("/"), route.template.count("{")))
        self.documented = {route: set(document["routes"][f"{route.method} {route.template}"]) for route in self.routes}
        self._modes = {
            False: _Schemas(document, DEFS, {}),
            True: _Schemas(document, DEFS + ":opt_fields", document["full_forms"]),
        }
        self._lock = threading.Lock()

    def route(self, method: str, path: str) -> Route | None:
        """The spec's route for a concrete path (literal segments win over templated ones)."""
        return next((route for route in self.routes if route.method == method and route.pattern.match(path)), None)

    def violations(self, method: str, path: str, status: int, body: Any, opt_fields: bool = False) -> list[str]:
        """What in this answer the spec does not allow; an empty list when it conforms."""
        where = f"{method} {path} {status}"
        schemas = self._modes[opt_fields]
        errand = self.route(method, path) if status >= 400 else None
        if errand is not None and str(status) in self.documented[errand]:
            with self._lock:
                validator = schemas.for_route(f"{method} {errand.template}", str(status))
        elif status >= 400:
            validator = schemas.error
        else:
            route = self.route(method, path)
            if route is None:
                return [f"{where}: no such route in Asana's API"]
            if str(status) not in self.documented[route]:
                documented = ", ".join(sorted(self.documented[route]))
                return [f"{where}: the spec documents {documented} for {route.template}, not {status}"]
            with self._lock:
                validator = schemas.for_route(f"{method} {route.template}", str(status))
        by_place: dict[tuple[Any, ...], list[ValidationError]] = {}
        for error in validator.iter_errors(body):
            by_place.setdefault(tuple(error.absolute_path), []).append(error)
        return [f"{where}: {describe(best_match(errors))}" for errors in by_place.values()]


def describe(error: ValidationError) -> str:
    """Where and what, descending into `anyOf` to the most telling reason."""
    deepest = best_match([error, *error.context]) if error.context else error
    location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in deepest.absolute_path)
    return f"${location}: {deepest.message}"


class ContractRecorder:
    """An emulator observer: keeps each exchange and validates it when `violations()` is called."""

    def __init__(self, contract: ResponseContract):
        self.contract = contract
        self._pending: list[Exchange] = []
        self._seen: set[tuple[str, str, int, bytes]] = set()
        self._found: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            self._pending.append(exchange)

    def violations(self) -> list[str]:
        with self._lock:
            pending, self._pending = self._pending, []
        for exchange in pending:
            key = (exchange.method, exchange.path, exchange.status, exchange.body)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._found.extend(self._check(exchange))
        return list(self._found)

    def _check(self, exchange: Exchange) -> list[str]:
        try:
            body = json.loads(exchange.body) if exchange.body else None
        except ValueError:
            return [f"{exchange.method} {exchange.path} {exchange.status}: the body is not JSON"]
        opt_fields = "opt_fields" in parse_qs(exchange.query)
        return self.contract.violations(exchange.method, exchange.path, exchange.status, body, opt_fields)


class _Shared:
    @cached_property
    def contract(self) -> ResponseContract:
        return ResponseContract()


_shared = _Shared()


def shared_contract() -> ResponseContract:
    """One contract per test session (building its validators is the slow part)."""
    return _shared.contract


@pytest.fixture(autouse=True)
def asana_response_contract() -> Iterator[ContractRecorder]:
    """Every answer of every in-process emulator during the test must match Asana's spec."""
    recorder = ContractRecorder(shared_contract())
    with observing(recorder):
        yield recorder
    found = recorder.violations()
    if found:
        shown = "\n  ".join(found[:20])
        more = f"\n  … and {len(found) - 20} more" if len(found) > 20 else ""
        pytest.fail(f"{len(found)} emulator answer(s) differ from Asana's OpenAPI spec:\n  {shown}{more}", pytrace=False)
