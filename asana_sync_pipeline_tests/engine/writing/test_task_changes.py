"""Create-only fields on existing tasks: the actions that close the gap, and nothing for what agrees."""

import json

from asana_sync_pipeline.engine.writing.task_changes import TaskAction, create_only_actions, opt_fields_for

PROJECT, OTHER, THIRD = "100", "110", "120"
TASK = "/tasks/7"


def actions(current, wanted, me="1"):
    return create_only_actions("7", current, wanted, project_gid=PROJECT, me_gid=me)


def test_tags_are_added_and_removed_to_match():
    current = {"tags": [{"gid": "1"}, {"gid": "2"}]}
    assert actions(current, {"tags": "2,3"}) == [
        TaskAction(f"{TASK}/addTag", {"tag": "3"}),
        TaskAction(f"{TASK}/removeTag", {"tag": "1"}),
    ]
    assert actions(current, {"tags": "1,2"}) == []
    assert actions(current, {"tags": ""}) == [
        TaskAction(f"{TASK}/removeTag", {"tag": "1"}),
        TaskAction(f"{TASK}/removeTag", {"tag": "2"}),
    ]


def test_followers_match_by_gid_email_or_me():
    current = {"followers": [{"gid": "1", "email": "bot@x.example"}, {"gid": "5", "email": "ada@x.example"}]}
    assert actions(current, {"followers": "me,ADA@x.example"}) == []
    assert actions(current, {"followers": "me,grace@x.example"}) == [
        TaskAction(f"{TASK}/addFollowers", {"followers": ["grace@x.example"]}),
        TaskAction(f"{TASK}/removeFollowers", {"followers": ["5"]}),
    ]


def test_projects_dropped_from_the_column_are_removed_but_never_the_configured_one():
    current = {"projects": [{"gid": PROJECT}, {"gid": OTHER}, {"gid": THIRD}]}
    assert actions(current, {"projects": OTHER}) == [TaskAction(f"{TASK}/removeProject", {"project": THIRD})]
    assert actions(current, {"projects": ""}) == [
        TaskAction(f"{TASK}/removeProject", {"project": OTHER}),
        TaskAction(f"{TASK}/removeProject", {"project": THIRD}),
    ]
    assert actions({"projects": [{"gid": PROJECT}]}, {"projects": OTHER}) == [TaskAction(f"{TASK}/addProject", {"project": OTHER})]


def test_memberships_place_the_task_and_keep_their_projects():
    current = {
        "projects": [{"gid": PROJECT}, {"gid": OTHER}],
        "memberships": [{"project": {"gid": PROJECT}, "section": {"gid": "401"}}, {"project": {"gid": OTHER}, "section": {"gid": "501"}}],
    }
    placed = json.dumps([{"project": PROJECT, "section": "402"}])
    assert actions(current, {"memberships": placed}) == [TaskAction(f"{TASK}/addProject", {"project": PROJECT, "section": "402"})]
    assert actions(current, {"memberships": json.dumps([{"project": OTHER}])}) == []
    assert actions(current, {"projects": "", "memberships": json.dumps([{"project": OTHER}])}) == []


def test_parent_changes_only_when_different():
    assert actions({"parent": {"gid": "9"}}, {"parent": "9"}) == []
    assert actions({"parent": None}, {"parent": "9"}) == [TaskAction(f"{TASK}/setParent", {"parent": "9"})]


def test_only_the_fields_needed_are_read():
    assert opt_fields_for({}) == []
    assert opt_fields_for({"tags": "1", "parent": "2"}) == ["tags", "parent"]
    assert "followers.email" in opt_fields_for({"followers": "me"})
    assert "memberships.section" in opt_fields_for({"projects": "1"})


def test_a_new_section_moves_the_task_and_the_same_one_costs_nothing():
    current = {"memberships": [{"project": {"gid": PROJECT}, "section": {"gid": "401"}}, {"project": {"gid": OTHER}, "section": {"gid": "402"}}]}
    assert actions(current, {"section": "401"}) == []
    assert actions(current, {"section": "402"}) == [TaskAction("/sections/402/addTask", {"task": "7"})]
    assert "memberships.section" in opt_fields_for({"section": "402"})
