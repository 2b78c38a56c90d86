"""What each OPC UA value type becomes: a reading with its quality, or a refusal with a reason."""

import math

import numpy as np
import pytest
from asyncua import ua

from collectors.opcua_values import EXACT_INT_LIMIT, Reading, Refusal, convert
from storage.telemetry import QUALITY_BAD, QUALITY_GOOD, QUALITY_UNCERTAIN

GOOD = ua.StatusCode(ua.UInt32(ua.StatusCodes.Good))
UNCERTAIN = ua.StatusCode(ua.UInt32(ua.StatusCodes.UncertainLastUsableValue))
BAD = ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure))


@pytest.mark.parametrize(("value", "expected"), [
    (True, 1.0), (False, 0.0), (-128, -128.0), (65535, 65535.0), (2**31 - 1, 2147483647.0),
    (EXACT_INT_LIMIT, float(EXACT_INT_LIMIT)), (1.5, 1.5), (-0.0, 0.0),
])
def test_numbers_and_flags_are_stored_with_good_quality(value, expected):
    assert convert(value, GOOD) == Reading(expected, QUALITY_GOOD)
    assert convert(value, None) == Reading(expected, QUALITY_GOOD)


def test_an_integer_beyond_float_precision_is_kept_rounded_and_marked_uncertain():
    big = 2**63 - 1  # an Int64 counter near its end
    r = convert(big, GOOD)
    assert isinstance(r, Reading)
    assert r.value == float(big) and r.quality == QUALITY_UNCERTAIN and r.inexact
    assert convert(-(2**53) - 1, GOOD) == Reading(float(-(2**53) - 1), QUALITY_UNCERTAIN, True)


def test_status_decides_before_the_value():
    assert convert(21.5, UNCERTAIN) == Reading(21.5, QUALITY_UNCERTAIN)
    # Bad: no value is stored, whatever the value field holds (even garbage or null).
    assert convert(21.5, BAD) == Reading(None, QUALITY_BAD)
    assert convert("garbage", BAD) == Reading(None, QUALITY_BAD)
    assert convert(None, BAD) == Reading(None, QUALITY_BAD)


@pytest.mark.parametrize(("value", "reason"), [
    (None, "null_value"),
    (math.nan, "non_finite"), (math.inf, "non_finite"), (-math.inf, "non_finite"),
    ([1.0, 2.0, 3.0], "not_a_scalar"), ((1, 2), "not_a_scalar"),
    (np.zeros(4), "not_a_scalar"),
    ("42", "not_a_number"), (b"\x00\x01", "not_a_number"),
    (ua.LocalizedText("hot"), "not_a_number"),
])
def test_what_is_not_one_number_is_refused_with_its_reason(value, reason):
    r = convert(value, GOOD)
    assert isinstance(r, Refusal)
    assert r.reason == reason
    assert r.detail  # a person reading the quarantine sees why
