"""Matching creates of unknown outcome to the tasks they made: on everything that was sent."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from asana_sync_pipeline.engine.observing.matching import match_intents
from asana_sync_pipeline.engine.observing.task_values import People, appearance_of_payload, appearance_of_task
from asana_sync_pipeline.engine.state import Intent

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
ME, ADA = "10", "11"
PROJECT, SECTION, DEFAULT_SECTION = "100", "401", "400"


def task(gid, name, minutes=1, **extra):
    created = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    shown = {
        "gid": gid, "name": name, "created_at": created, "notes": "", "html_notes": "<body></body>", "completed": False,
        "assignee": None, "tags": [], "followers": [{"gid": ME}], "parent": None, "resource_subtype": "default_task",
        "projects": [{"gid": PROJECT}], "memberships": [{"project": {"gid": PROJECT}, "section": {"gid": DEFAULT_SECTION}}],
        "custom_fields": [],
    }  # fmt: skip
    return {**shown, **extra}


def intent(key, **payload):
    return Intent(key, {"projects": [PROJECT], **payload}, T0)


def match(intents, tasks, known=frozenset(), **options):
    return match_intents(intents, tasks, set(known), me_gid=ME, **options)


def test_identical_payloads_are_interchangeable_and_pair_one_to_one():
    intents = [intent("a", name="Same"), intent("b", name="Same"), intent("c", name="Other")]
    assert match(intents, [task("1", "Same"), task("2", "Other")]) == {"a": "1", "c": "2"}


def test_repeated_names_pair_only_with_the_task_holding_their_notes():
    intents = [intent(key, name="Follow up", notes=f"Account {key}") for key in "abcd"]
    tasks = [task("1", "Follow up", notes="Account c", html_notes="<body>Account c</body>"), task("2", "Follow up", notes="Account a")]
    assert match(intents, tasks) == {"c": "1", "a": "2"}


@pytest.mark.parametrize(
    ("texts", "made_by"),
    [
        ({"a": {"notes": "Call\nthem"}, "b": {"notes": "Call them"}}, "a"),
        ({"a": {"notes": "Call  them"}, "b": {"notes": "Call them"}}, "a"),
        ({"a": {"notes": "Call  them"}, "b": {"notes": "Call them"}}, "b"),
        ({"a": {"html_notes": "<body><strong>Call</strong> them</body>"}, "b": {"html_notes": "<body>Call them</body>"}}, "b"),
    ],
)
def test_rows_whose_text_differs_only_in_layout_each_keep_their_own_task(texts, made_by):
    intents = [intent(key, name="Follow up", **text) for key, text in texts.items()]
    shown = texts[made_by].get("notes") or texts[made_by]["html_notes"]
    made = task("1", "Follow up", notes=shown, html_notes=f"<body>{shown}</body>")
    if "html_notes" in texts[made_by]:
        made = task("1", "Follow up", html_notes=shown, notes="Call them")
    assert match(intents, [made]) == {made_by: "1"}


def test_known_and_older_tasks_are_never_adopted():
    intents = [intent("a", name="X")]
    assert match(intents, [task("1", "X")], {"1"}) == {}
    assert match(intents, [task("2", "X", minutes=-60)]) == {}


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ({"due_on": "2026-02-01"}, {"due_on": "2026-02-02"}),
        ({"due_at": "2026-02-01T10:00:00.000Z"}, {"due_on": "2026-02-01", "due_at": "2026-02-01T11:00:00.000Z"}),
        ({"completed": True}, {}),
        ({"assignee": "ada@x.example"}, {"assignee": {"gid": "12", "email": "grace@x.example"}}),
        ({"tags": ["7"]}, {"tags": [{"gid": "8"}]}),
        ({"custom_fields": {"300": "gold"}}, {"custom_fields": [{"gid": "300", "resource_subtype": "text", "text_value": "silver"}]}),
        ({}, {"custom_fields": [{"gid": "301", "resource_subtype": "number", "number_value": 3}]}),
        ({"memberships": [{"project": PROJECT, "section": SECTION}]}, {}),
        ({"html_notes": "<body><strong>Call</strong> Ada</body>"}, {"html_notes": "<body>Call Grace</body>", "notes": "Call Grace"}),
        ({"notes": "Account a"}, {"notes": "Account b", "html_notes": "<body>Account b</body>"}),
        ({"resource_subtype": "milestone"}, {}),
        ({"parent": "55"}, {}),
        ({"notes": "Call\nthem"}, {"notes": "Call them", "html_notes": "<body>Call them</body>"}),
        ({"notes": "Call them"}, {"notes": "Call\nthem", "html_notes": "<body>Call\nthem</body>"}),
        ({"html_notes": "<body><strong>Call</strong> them</body>"}, {"html_notes": "<body>Call them</body>", "notes": "Call them"}),
        ({"custom_fields": {"301": Decimal(2**53 + 1)}}, {"custom_fields": [{"gid": "301", "resource_subtype": "number", "number_value": 2**53}]}),
    ],
)
def test_a_task_differing_in_anything_sent_is_not_adopted(sent, shown):
    assert match([intent("a", name="X", **sent)], [task("1", "X", **shown)]) == {}


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ({"due_at": "2026-02-01T10:00:00.000Z"}, {"due_on": "2026-02-01", "due_at": "2026-02-01T11:00:00+01:00"}),
        ({"start_at": "2026-02-01T09:00:00Z", "due_at": "2026-02-01T10:00:00Z"},
         {"start_on": "2026-02-01", "start_at": "2026-02-01T09:00:00.000Z", "due_on": "2026-02-01", "due_at": "2026-02-01T10:00:00.000Z"}),
        ({"assignee": "ada@x.example"}, {"assignee": {"gid": ADA, "email": "ada@x.example"}, "followers": [{"gid": ME}, {"gid": ADA}]}),
        ({"assignee": "me"}, {"assignee": {"gid": ME, "email": "bot@x.example"}}),
        ({"html_notes": "<body><strong>Call</strong>\n Ada</body>"}, {"html_notes": "<body><strong>Call</strong> Ada</body>", "notes": "Call Ada"}),
        ({"notes": "line one\nline two"}, {"notes": "line one\nline two", "html_notes": "<body>line one\nline two</body>"}),
        ({"custom_fields": {"300": "gold", "301": 120000, "302": "9", "303": ["5", "6"], "304": {"date": "2026-03-01"}}},
         {"custom_fields": [
             {"gid": "300", "resource_subtype": "text", "text_value": "gold"},
             {"gid": "301", "resource_subtype": "number", "number_value": 120000.0},
             {"gid": "302", "resource_subtype": "enum", "enum_value": {"gid": "9", "name": "Red"}},
             {"gid": "303", "resource_subtype": "multi_enum", "multi_enum_values": [{"gid": "6"}, {"gid": "5"}]},
             {"gid": "304", "resource_subtype": "date", "date_value": {"date": "2026-03-01", "date_time": None}},
             {"gid": "305", "resource_subtype": "text", "text_value": None},
         ]}),
        ({"memberships": [{"project": PROJECT, "section": SECTION}]},
         {"memberships": [{"project": {"gid": PROJECT}, "section": {"gid": SECTION}}]}),
        ({"tags": ["7", "8"], "followers": [ADA]}, {"tags": [{"gid": "8"}, {"gid": "7"}], "followers": [{"gid": ADA}, {"gid": ME}]}),
        ({"notes": "a  b\r\nc "}, {"notes": "a b\nc", "html_notes": "<body>a b\nc</body>"}),
        ({"custom_fields": {"301": Decimal(2**53 + 1), "302": Decimal("12.50")}},
         {"custom_fields": [{"gid": "301", "resource_subtype": "number", "number_value": 2**53 + 1},
                            {"gid": "302", "resource_subtype": "number", "number_value": 12.5}]}),
    ],
)
def test_a_task_showing_what_was_sent_the_way_asana_shows_it_is_adopted(sent, shown):
    assert match([intent("a", name="X", **sent)], [task("1", "X", **shown)]) == {"a": "1"}


def test_a_payload_and_the_task_it_made_observe_alike():
    payload = {"name": " X ", "notes": "n", "projects": [PROJECT], "completed": False}
    people = People(ME)
    assert appearance_of_task(task("1", "X", notes="n", html_notes="<body>n</body>"), people).shows(appearance_of_payload(payload, people))
    assert not appearance_of_task(task("1", "X", notes="m", html_notes="<body>m</body>"), people).shows(appearance_of_payload(payload, people))


def test_the_more_specific_placement_wins_a_task_both_could_have_made():
    placed = intent("placed", name="X", memberships=[{"project": PROJECT, "section": SECTION}])
    anywhere = intent("anywhere", name="X", memberships=[{"project": PROJECT}])
    in_section = task("1", "X", memberships=[{"project": {"gid": PROJECT}, "section": {"gid": SECTION}}])
    assert match([anywhere, placed], [in_section]) == {"placed": "1"}


def test_sync_key_matching_is_exact():
    intents = [intent("a", name="Same"), intent("b", name="Same")]
    tasks = [
        task("1", "Same", custom_fields=[{"gid": "77", "text_value": "b"}]),
        task("2", "Same", custom_fields=[{"gid": "77", "text_value": "zzz"}]),
    ]
    assert match(intents, tasks, sync_key_field="77") == {"b": "1"}
