"""A Schemathesis check for the one operation allowed to refuse a schema-valid body with 422 (schemathesis.toml).

Such a refusal must be for what no schema can state; a 422 naming a field whose requirements the schema does
state (a missing `hours`, a rating of 9) means the schema and the server disagree."""

import schemathesis

EVENTS = "/api/v1/assignments/{assignment_id}/events"
# "" is the whole request: the task's state (already waiting, nothing to revoke, not applicable, safety first).
ONLY_THE_SERVER_KNOWS = {"", "pin", "vin", "photo", "photo.content_type"}


@schemathesis.check
def refusals_of_valid_events_name_only_server_rules(ctx, response, case):
    meta = case.meta
    if (meta is None or not meta.generation.mode.is_positive or response.status_code != 422
            or case.operation.method.upper() != "POST" or case.operation.path != EVENTS):
        return None
    fields = set((response.json().get("errors") or {}).keys())
    if not fields <= ONLY_THE_SERVER_KNOWS:
        raise AssertionError(f"A schema-valid event was refused for {sorted(fields - ONLY_THE_SERVER_KNOWS)}, "
                             "which the schema should state: " + response.text[:300])
    return None
