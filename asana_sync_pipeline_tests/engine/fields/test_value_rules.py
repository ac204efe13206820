"""Each field rule, table-driven: accepted values with what is sent, rejected values with the reason."""

import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from asana_sync_pipeline.engine.fields import value_rules as fields
from asana_sync_pipeline.engine.fields.value_rules import TASK_FIELDS, normalize_column, to_api_value


def sent(field: str, value):
    """What Asana receives for `value`, or the rejection reason."""
    column = normalize_column(TASK_FIELDS[field].rule, pd.Series([value], dtype=object))
    if column.reasons()[0] is not None:
        return ("rejected", column.reasons()[0])
    if column.values[0] is None:
        return None
    return to_api_value(field, column.values[0])


ACCEPTED = [
    ("name", "Call Acme about renewal", "Call Acme about renewal"),
    ("name", "  padded  ", "  padded  "),
    ("name", 42, "42"),
    ("notes", "", ""),
    ("notes", "multi\nline", "multi\nline"),
    ("html_notes", "<body>Hi <strong>there</strong></body>", "<body>Hi <strong>there</strong></body>"),
    ("html_notes", "Hi <em>there</em>", "<body>Hi <em>there</em></body>"),
    ("html_notes", '<body><a href="https://x.example">x</a></body>', '<body><a href="https://x.example">x</a></body>'),
    ("html_notes", "<body><ul><li>a</li></ul><hr/><h1>t</h1></body>", "<body><ul><li>a</li></ul><hr/><h1>t</h1></body>"),
    ("due_on", "2025-12-31", "2025-12-31"),
    ("due_on", " 2024-02-29 ", "2024-02-29"),
    ("due_on", date(2025, 1, 2), "2025-01-02"),
    ("due_on", datetime(2025, 1, 2), "2025-01-02"),
    ("start_on", "2025-01-01", "2025-01-01"),
    ("due_at", "2025-12-31T17:00:00Z", "2025-12-31T17:00:00.000Z"),
    ("due_at", "2025-12-31T17:00:00+02:00", "2025-12-31T15:00:00.000Z"),
    ("due_at", "2025-12-31T17:00:00.123456-05:00", "2025-12-31T22:00:00.123Z"),
    ("due_at", datetime(2025, 6, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))), "2025-06-01T08:30:00.000Z"),
    ("assignee", "me", "me"),
    ("assignee", "ME", "me"),
    ("assignee", "ada@acme.example", "ada@acme.example"),
    ("assignee", "1200000000000011", "1200000000000011"),
    ("assignee", 1200000000000011, "1200000000000011"),
    ("tags", "1111,2222,3333", ["1111", "2222", "3333"]),
    ("tags", " 1111 , 2222 ,", ["1111", "2222"]),
    ("tags", "1111,1111", ["1111"]),
    ("tags", "", []),
    ("tags", ["1111", "2222"], ["1111", "2222"]),
    ("tags", np.array([1111, 2222]), ["1111", "2222"]),
    ("completed", True, True),
    ("completed", np.bool_(False), False),
    ("completed", "TRUE", True),
    ("completed", " false ", False),
    ("custom_fields", '{"1234": "High", "9876": 42}', {"1234": "High", "9876": 42}),
    ("custom_fields", {"1234": ["1", "2"]}, {"1234": ["1", "2"]}),
    ("custom_fields", "{}", {}),
    ("resource_subtype", "milestone", "milestone"),
    ("followers", "me, ada@acme.example", ["me", "ada@acme.example"]),
    ("memberships", '[{"project": "1", "section": "2"}]', [{"project": "1", "section": "2"}]),
    ("parent", "123", "123"),
]

REJECTED = [
    ("name", "", "must not be empty"),
    ("name", "   ", "must not be empty"),
    ("name", ["a"], "expected text"),
    ("name", True, "expected text"),
    ("html_notes", "<body><strong>open</body>", "not well-formed XML"),
    ("html_notes", "<body><p>para</p></body>", "<p> is not allowed"),
    ("html_notes", '<body><strong class="x">a</strong></body>', 'attribute "class" is not allowed'),
    ("html_notes", "<body>&nbsp;</body>", "not well-formed XML"),
    ("html_notes", '<!DOCTYPE x [<!ENTITY a "b">]><body>&a;</body>', "DOCTYPE"),
    ("due_on", "2025-13-01", "not a real calendar date"),
    ("due_on", "2025-02-30", "not a real calendar date"),
    ("due_on", "31/12/2025", "expected a date as YYYY-MM-DD"),
    ("due_on", "2025-12-31T10:00:00Z", "expected a date as YYYY-MM-DD"),
    ("due_on", datetime(2025, 1, 2, 10, 30), "use due_at for a time"),
    ("due_at", "2025-12-31T17:00:00", "has no time zone"),
    ("due_at", datetime(2025, 12, 31, 17), "has no time zone"),
    ("due_at", "2025-12-31", "use due_on"),
    ("due_at", "tomorrow", "expected an ISO 8601 date-time"),
    ("assignee", "Ada Lovelace", "display names are not accepted"),
    ("assignee", "ada@", "expected a user GID, an email or 'me'"),
    ("tags", "churn-risk", "is not a tag GID"),
    ("tags", "1111,abc", "'abc' is not a tag GID"),
    ("tags", {"a": 1}, "expected a comma-separated list"),
    ("completed", "yes", "expected true or false"),
    ("completed", 1, "expected true or false"),
    ("custom_fields", "{not json", "not valid JSON"),
    ("custom_fields", '["1", "2"]', "expected a JSON object"),
    ("custom_fields", '{"Health": "Red"}', "not a custom-field GID"),
    ("resource_subtype", "section", "expected one of default_task, milestone, approval"),
    ("memberships", '[{"section": "2"}]', "project and optional section"),
    ("parent", "abc", "expected a numeric GID"),
]


@pytest.mark.parametrize(("field", "value", "expected"), ACCEPTED)
def test_accepted_values_are_sent_normalized(field, value, expected):
    assert sent(field, value) == expected


@pytest.mark.parametrize(("field", "value", "reason"), REJECTED)
def test_rejected_values_say_why(field, value, reason):
    outcome = sent(field, value)
    assert outcome[0] == "rejected"
    assert reason in outcome[1]


@pytest.mark.parametrize("null", [None, float("nan"), pd.NA, pd.NaT, np.nan])
@pytest.mark.parametrize("field", sorted(TASK_FIELDS))
def test_null_means_not_given(field, null):
    assert sent(field, null) is None


def test_typed_duckdb_columns():
    import duckdb

    frame = duckdb.sql(
        "SELECT DATE '2025-03-01' AS d, TIMESTAMPTZ '2025-03-01 10:00:00+02' AS tz, TIMESTAMP '2025-03-01 10:00:00' AS naive, "
        "true AS b, ['11', '22'] AS tag_list, '{\"1\": 2}'::JSON AS j, NULL::DATE AS no_date"
    ).df()
    assert normalize_column(fields.calendar_date, frame["d"]).values.tolist() == ["2025-03-01"]
    assert normalize_column(fields.date_time, frame["tz"]).values.tolist() == ["2025-03-01T08:00:00.000Z"]
    naive = normalize_column(fields.date_time, frame["naive"])
    assert naive.values.tolist() == [None] and "no time zone" in naive.reasons()[0]
    assert normalize_column(fields.boolean, frame["b"]).values.tolist() == [True]
    assert normalize_column(fields.tag_gids, frame["tag_list"]).values.tolist() == ["11,22"]
    assert normalize_column(fields.custom_fields, frame["j"]).values.tolist() == ['{"1":2}']
    missing = normalize_column(fields.calendar_date, frame["no_date"])
    assert missing.values.tolist() == [None] and missing.reasons().tolist() == [None]


def test_pandas_string_dtype_with_missing_values():
    column = pd.Series(["true", None, "False"], dtype="str")
    result = normalize_column(fields.boolean, column)
    assert result.values.tolist() == [True, None, False]
    assert result.reasons().tolist() == [None, None, None]


def test_a_text_column_read_from_the_warehouse_rejects_blank_names_and_keeps_nulls_unset():
    """The path a DuckDB VARCHAR column takes (pandas `str`, all distinct): blank means empty or only
    white space by Python's rules, Unicode spaces included, in both the object and the `str` column."""
    texts = ["Task", "", "   ", "\u00a0\u2003\t", None, " x "]
    blank = "must not be empty"
    for column in (pd.Series(texts, dtype="str"), pd.Series(texts, dtype=object)):
        result = normalize_column(fields.required_text, column)
        assert result.reasons().tolist() == [None, blank, blank, blank, None, None]
        assert result.values.tolist() == ["Task", None, None, None, None, " x "]
    notes = normalize_column(fields.text, pd.Series(texts, dtype="str"))
    assert notes.values.tolist() == ["Task", "", "   ", "\u00a0\u2003\t", None, " x "]
    assert not notes.invalid().any() and notes.reasons().tolist() == [None] * 6


def test_mixed_object_column_does_not_merge_equal_looking_values():
    result = normalize_column(fields.boolean, pd.Series([True, 1, 1.0, "true"], dtype=object))
    assert result.values.tolist() == [True, None, None, True]


def test_each_distinct_value_is_checked_once():
    calls = []

    def rule(value):
        calls.append(value)
        return value

    normalize_column(rule, pd.Series(["a", "b", "a", None] * 1000, dtype="str"))
    assert sorted(calls) == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (np.datetime64("10000-01-01"), "10000-01-01"),
        ("infinity", "infinity"),
        ("-infinity", "-infinity"),
        ("10000-01-01", "10000-01-01"),
        ("10000-01-01 09:00:00+00", "10000-01-01 09:00:00+00"),
    ],
)
def test_dates_beyond_the_calendar_are_a_reason_not_a_crash(value, shown):
    for rule in (fields.calendar_date, fields.date_time):
        with pytest.raises(fields.FieldValueError, match=f"^{re.escape(shown)} is outside the dates Asana takes"):
            rule(value)
