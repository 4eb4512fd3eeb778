"""Schema-driven fuzzing of the rep API: every operation in the gateway's OpenAPI document,
called on a loopback gateway with an admin's bearer token, must never answer with a server error.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from gateway.app import create_app
from tests.conftest import make_settings
from tests.fuzz.conftest import ThreadedGateway


def _openapi_document() -> dict[str, Any]:
    """The document the gateway serves at /openapi.json (building the app opens no database)."""
    app = create_app(make_settings("sqlite:///unused-by-the-openapi-document.db"))
    try:
        return dict(app.other_asgi_app.openapi())
    finally:
        app.other_asgi_app.state.services.desk.close()


# Signing out would revoke the token the other calls use.
schema = schemathesis.openapi.from_dict(_openapi_document()).exclude(path="/api/auth/logout")


@pytest.fixture(scope="module")
def rep_headers(fuzz_gateway: ThreadedGateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {fuzz_gateway.rep_token()}"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(
    case: schemathesis.Case, fuzz_gateway: ThreadedGateway, rep_headers: dict[str, str]
) -> None:
    case.call_and_validate(
        base_url=fuzz_gateway.url, headers=rep_headers, checks=[not_a_server_error], timeout=30
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/conversations/2147483648"),
        ("POST", "/api/conversations/14968923843080656896/claim"),
        ("DELETE", "/api/canned-responses/2147483648"),
        ("POST", "/api/follow-ups/14968923843080656896/done"),
    ],
)
def test_an_id_too_large_for_any_row_is_a_422_not_a_server_error(
    fuzz_gateway: ThreadedGateway, rep_headers: dict[str, str], method: str, path: str
) -> None:
    with httpx.Client(base_url=fuzz_gateway.url, timeout=30) as http:
        response = http.request(method, path, headers=rep_headers)
        largest = http.get("/api/conversations/2147483647", headers=rep_headers)
    assert response.status_code == 422, response.text
    assert largest.status_code == 404  # the largest id there can be is looked up


def test_an_oversized_api_body_is_refused_with_413(fuzz_gateway: ThreadedGateway) -> None:
    body = json.dumps({"username": "x" * (2 * 1024 * 1024), "password": "y"})
    with httpx.Client(base_url=fuzz_gateway.url, timeout=30) as http:
        response = http.post(
            "/api/auth/login", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert "at most 1,048,576 bytes" in response.json()["detail"]
