"""schemathesis over moderation's OpenAPI: no 5xx for any input, every error problem+json."""

from __future__ import annotations

import pytest

from tests.security.fuzz_support import fuzz_every_operation, running_service

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_no_server_errors_and_every_error_is_problem_json(
    kafka_bootstrap: str, postgres_server_url: str, tmp_path
) -> None:
    with running_service(
        "moderation", server_url=postgres_server_url, bootstrap=kafka_bootstrap, log_dir=tmp_path
    ) as (process, headers):
        failures = fuzz_every_operation(process.url, headers)
    assert not failures, "\n\n".join(failures)
