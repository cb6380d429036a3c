"""schemathesis against /openapi.json: generated requests, valid and not, never get a 5xx or an off-schema response.

Each operation is driven through hypothesis directly (`operation.as_strategy()`): schemathesis 4.32's own
pytest integration (`from_fixture`) reads `Node._nodeid`, which pytest 9.2 no longer has.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from bot.api.app import create_app
from conftest import poll_until
from bot.settings import Settings
from retrieval.embed.embedders import HashingEmbedder
from retrieval.engine import Engine
from retrieval.index.files.refresh import build

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
ADMIN = "schema-admin-token"
CASES = 25  # per operation: a bounded run that keeps the suite fast; raise it locally to dig deeper
OPERATIONS = ["POST /v1/ask", "DELETE /v1/conversations/{conversation_id}", "POST /v1/feedback", "GET /v1/articles",
              "GET /v1/articles/{article_id}", "GET /v1/passages/{passage_id}", "GET /healthz", "GET /readyz",
              "GET /metrics", "POST /v1/admin/refresh", "GET /v1/admin/refresh/status"]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, wait_until_module):
    root = tmp_path_factory.mktemp("schema")
    build(SEEDS, root / "index", HashingEmbedder(256))
    # The engine is passed in, loaded: schemathesis runs the app's lifespan again for its own client.
    engine = Engine.open(root / "index", HashingEmbedder(256))
    app = create_app(engine, Settings(_env_file=None, corpus=SEEDS, index=root / "index", model="hashing-256",
                                       conversations=root / "conversations.sqlite", rate_limit_per_minute=0,
                                       admin_token=ADMIN))
    with TestClient(app) as client:  # runs the lifespan: the index is loaded before the first case
        wait_until_module(lambda: client.get("/readyz").status_code == 200, "the index to load")
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def wait_until_module():
    """poll_until for module-scoped fixtures (the function-scoped `wait_until` cannot serve them)."""
    return poll_until


def test_every_operation_is_fuzzed(api_schema):
    assert sorted(r.ok().label for r in api_schema.get_all_operations()) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_error_and_no_response_off_the_schema(api_schema, label):
    method, path = label.split(" ")
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate()

    check()
