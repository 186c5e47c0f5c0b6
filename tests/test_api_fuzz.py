"""Schemathesis fuzzes the JSON API in-process from the app's own OpenAPI schema, with every check.

Requests carry a real API token of the world's manager, so the generated calls reach the handlers
(and `ignored_auth` re-sends them without it, expecting a refusal). The number of examples per
operation is bounded so that `make test` stays quick.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from mentoring.access import apitokens
from mentoring.people.models import Organization

from .conftest import actor_for

EXAMPLES = 25
# A request can match the schema and still break a rule the schema cannot state: a wrong PIN, a task marked not
# applicable, a task already waiting. The API answers those 422 with the field at fault (documented on each
# operation), so a schema-valid request may get 422 as well as the statuses Schemathesis expects by default.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]}}})


@pytest.fixture
def api_token(clean_db, world, assigned) -> str:
    admin = actor_for(clean_db, world.admin)
    with clean_db.transaction() as db:
        _, raw = apitokens.create_token(db, admin, db.get(Organization, world.shop.id), world.manager.id, "fuzz")
    return raw


def test_the_api_holds_up_to_generated_requests(app, api_token):
    schema = schemathesis.openapi.from_asgi("/api/schema/openapi.json", app, config=CONFIG)
    failures = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"})

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, then report them together
            failures[operation.label] = str(exc)[:3000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
