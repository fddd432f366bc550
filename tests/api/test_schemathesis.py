"""schemathesis against the live schema on a running server: no 5xx, and every response matches the schema.

The schemathesis CLI runs in a subprocess against pytest-django's live server (a real threaded HTTP server on
the test database). Bounded by --max-examples to stay within a minute or two on two cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"


@pytest.mark.e2e
def test_live_api_conforms_to_its_schema(live_server, integration_and_token, base_model_version, settings, tmp_path):
    # Hundreds of requests in a minute: the throttle has its own test.
    settings.GRADER_API_THROTTLE_RATE = "1000000/min"
    integration, token = integration_and_token
    # With the scope, the corrections endpoint is exercised past its permission check too.
    integration.scopes = ["corrections:write"]
    integration.save(update_fields=["scopes"])
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{live_server.url}/api/v1/schema/?format=json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "20",
        "--seed", "4",
        "--workers", "1",
        "--generation-database", "none",
        "--request-timeout", "20",
        "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    print(result.stdout[-3000:])  # the run's summary, shown with -s or on failure
    assert result.returncode == 0, result.stdout[-15000:] + result.stderr[-3000:]
    assert "passed" in result.stdout.lower()
