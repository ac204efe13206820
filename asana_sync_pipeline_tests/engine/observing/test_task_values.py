"""Comparing a task with what the sync wrote, field by field, as Asana shows each value."""

from asana_sync_pipeline.engine.observing.task_values import Context, People, differs, is_in_project, present, shown

ME, ADA = "1200000000000010", "1200000000000011"
CTX = Context(project_gid="100", people=People(ME), kinds={"301": "text", "302": "number", "305": "multi_enum"}, sync_key_field="301",
              task_of_key={"parent-row": "900"})  # fmt: skip


def test_text_compares_by_its_words_and_instants_in_utc():
    assert not differs("notes", "call them\n", {"notes": "call them"}, CTX)
    assert differs("notes", "call them", {"notes": "call them tomorrow"}, CTX)
    assert not differs("due_at", "2026-12-01T17:00:00+00:00", {"due_at": "2026-12-01T18:00:00.000+01:00"}, CTX)
    assert differs("due_on", "2026-12-31", {"due_on": "2027-01-15"}, CTX)
    assert not differs("name", "Call ", {"name": "Call"}, CTX)


def test_people_match_by_gid_email_or_me():
    assert not differs("assignee", "ada@acme.example", {"assignee": {"gid": ADA, "email": "Ada@Acme.example"}}, CTX)
    assert not differs("assignee", "me", {"assignee": {"gid": ME}}, CTX)
    assert differs("assignee", ADA, {"assignee": None}, CTX)


def test_a_list_changed_only_when_an_item_the_sync_wrote_is_gone():
    task = {"tags": [{"gid": "1"}, {"gid": "2"}, {"gid": "3"}]}
    assert not differs("tags", "1,2", task, CTX), "a tag people added is theirs"
    assert differs("tags", "1,4", task, CTX)
    assert present("tags", "1,4", task, CTX) == ["1"]
    assert shown("tags", task, CTX) == "1,2,3"


def test_custom_fields_compare_by_type():
    task = {
        "custom_fields": [
            {"gid": "302", "resource_subtype": "number", "number_value": 12.5},
            {"gid": "305", "resource_subtype": "multi_enum", "multi_enum_values": [{"gid": "b"}, {"gid": "a"}]},
            {"gid": "301", "resource_subtype": "text", "text_value": "row-1"},
        ]
    }
    assert not differs("custom_fields.302", "12.50", task, CTX)
    assert differs("custom_fields.302", "13", task, CTX)
    assert not differs("custom_fields.305", "a,b", task, CTX)
    assert shown("custom_fields.305", task, CTX) == "a,b"
    assert not differs("sync_key", "row-1", task, CTX) and differs("sync_key", "row-2", task, CTX)


def test_a_parent_key_compares_with_the_parent_rows_task_and_the_project_by_gid():
    assert not differs("parent_key", "parent-row", {"parent": {"gid": "900"}}, CTX)
    assert differs("parent_key", "parent-row", {"parent": None}, CTX)
    assert not differs("parent_key", "row-without-a-task-yet", {"parent": None}, CTX)
    assert is_in_project({"projects": [{"gid": "7"}, {"gid": "100"}]}, CTX)
    assert not is_in_project({"projects": [{"gid": "7"}]}, CTX)
