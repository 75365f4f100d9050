"""Every HTTP route, parameter and MCP tool explains itself (the spirit of test_help.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lore.server.http import create_app
from lore.server.runtime import Runtime


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    path: Path = tmp_path_factory.mktemp("help") / "lore.db"
    with Runtime(path, embedder="hash") as runtime:
        app = create_app(runtime)
        yield app, app.openapi()


def test_every_route_has_a_summary_and_description(spec: tuple[Any, dict[str, Any]]) -> None:
    _, openapi = spec
    operations = [(p, m, o) for p, ops in openapi["paths"].items() for m, o in ops.items()]
    assert len(operations) >= 10
    for path, method, operation in operations:
        assert (operation.get("summary") or "").strip(), f"{method} {path} has no summary"
        description = (operation.get("description") or "").strip()
        assert len(description) > 20, f"{method} {path} has no description"


def test_every_parameter_and_request_field_is_described(spec: tuple[Any, dict[str, Any]]) -> None:
    _, openapi = spec
    schemas = openapi["components"]["schemas"]
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] != "path":
                    assert param.get("description"), f"{method} {path}: {param['name']}"
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                name = media["schema"]["$ref"].rsplit("/", 1)[-1]
                for field, prop in schemas[name]["properties"].items():
                    described = prop.get("description") or name.startswith("Body_")
                    assert described, f"{method} {path}: body field {field} has no description"
            assert {"401", "422"} <= set(operation["responses"]) or path == "/healthz"


def test_errors_are_documented_as_the_envelope(spec: tuple[Any, dict[str, Any]]) -> None:
    _, openapi = spec
    search = openapi["paths"]["/v1/search"]["post"]["responses"]
    for status in ("400", "401", "403", "413", "422"):
        ref = search[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorEnvelope")
    assert "AccessKey" in openapi["components"]["securitySchemes"]
