"""Hypothesis against the public verifier: whatever anyone pastes or uploads, a verdict comes back, never a crash,
and nothing made up is ever called authentic."""

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exports import verify

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)
# Things shaped like what people paste: JWS-like triples, JSON records, PDF headers, plain junk.
pasted = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=300).map(str.encode),
    st.tuples(json_values, json_values, st.binary(max_size=64)).map(
        lambda t: ".".join([_b64(json.dumps(t[0]).encode()), _b64(json.dumps(t[1]).encode()), _b64(t[2])]).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=500).map(lambda b: b"%PDF-1.4\n" + b),
)


@given(data=pasted)
@FUZZ
def test_verify_bytes_always_answers(db, data):
    verdict = verify.verify_bytes(db, data)
    assert verdict.authentic is False
    assert verdict.message


@given(token=st.text(max_size=400))
@FUZZ
def test_verify_credential_always_answers(db, token):
    verdict = verify.verify_credential(db, token)
    assert verdict.authentic is False and verdict.message


@given(code=st.text(max_size=60))
@FUZZ
def test_verify_code_always_answers(db, code):
    verdict = verify.verify_record_code(db, code)
    assert verdict.authentic is False and verdict.message
