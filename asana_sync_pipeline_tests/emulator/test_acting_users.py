"""Users of the fixture with tokens of their own: a request acts as its token's user (who is `me`,
who created, completed, commented, whose events), each token with its own limits; and what
a client reading changes relies on: `modified_since` lists exactly the tasks changed since,
by anyone, in pages of 100."""

import time

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings, FixtureError, create_app, default_fixture
from asana_sync_pipeline_tests.emulator.conftest import TOKEN

PROJECT = "1200000000000100"
BOT, ADA, GRACE = "1200000000000010", "1200000000000011", "1200000000000012"
ADA_TOKEN = "1/1200000000000011:ada0ada0ada0ada0ada0ada0ada0ada0"
GRACE_TOKEN = "1/1200000000000012:grace0grace0grace0grace0grace0gr"


def fixture_with_tokens() -> dict:
    fixture = default_fixture()
    tokens = {ADA: ADA_TOKEN, GRACE: GRACE_TOKEN}
    fixture["users"] = [{**user, "token": tokens[user["gid"]]} if user["gid"] in tokens else user for user in fixture["users"]]
    return fixture


@pytest.fixture
def server():
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture_with_tokens())) as running:
        yield running


def as_user(server, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def fresh_sync(http, resource=PROJECT) -> str:
    answer = http.get("/events", params={"resource": resource})
    assert answer.status_code == 412
    return answer.json()["sync"]


def test_each_token_is_its_users_me_and_unknown_tokens_stay_401(server):
    with as_user(server, TOKEN) as bot, as_user(server, ADA_TOKEN) as ada, as_user(server, "1/nobody:0000") as nobody:
        assert bot.get("/users/me").json()["data"]["gid"] == BOT
        me = ada.get("/users/me", params={"opt_fields": "name,email"}).json()["data"]
        assert me == {"gid": ADA, "name": "Ada Lovelace", "email": "ada@acme.example"}
        assert nobody.get("/users/me").status_code == 401
        assert ada.get(f"/users/{ADA}").json()["data"].keys() == {"gid", "resource_type", "name", "email", "photo", "workspaces"}, \
            "a user's record never carries its token"
        task = ada.post("/tasks", json={"data": {"name": "mine", "projects": [PROJECT], "assignee": "me"}}).json()["data"]
        assert task["assignee"]["gid"] == ADA, "`me` in a body is the acting user too"


def test_who_created_completed_commented_and_caused_each_event(server):
    with as_user(server, TOKEN) as bot, as_user(server, ADA_TOKEN) as ada, as_user(server, GRACE_TOKEN) as grace:
        sync = fresh_sync(bot)
        gid = bot.post("/tasks", json={"data": {"name": "shared", "projects": [PROJECT]}}).json()["data"]["gid"]
        ada.put(f"/tasks/{gid}", json={"data": {"completed": True}})
        grace.post(f"/tasks/{gid}/stories", json={"data": {"text": "looks done"}})
        task = bot.get(f"/tasks/{gid}", params={"opt_fields": "created_by,completed_by.name,completed"}).json()["data"]
        assert task["created_by"]["gid"] == BOT
        assert task["completed_by"] == {"gid": ADA, "resource_type": "user", "name": "Ada Lovelace"}
        stories = bot.get(f"/tasks/{gid}/stories", params={"opt_fields": "resource_subtype,created_by.name,created_at"}).json()["data"]
        authors = {story["resource_subtype"]: story["created_by"]["gid"] for story in stories}
        assert authors == {"added_to_project": BOT, "marked_complete": ADA, "comment_added": GRACE}
        events = bot.get("/events", params={"resource": PROJECT, "sync": sync}).json()["data"]
        by = [(event["action"], (event.get("change") or {}).get("field"), event["user"]["gid"]) for event in events]
        assert by == [("added", None, BOT), ("changed", "completed", ADA), ("added", None, GRACE)]
        assert all(event["user"] == {"gid": event["user"]["gid"], "resource_type": "user", "name": event["user"]["name"]}
                   and event["created_at"].endswith("Z") for event in events)
        created = ada.post("/tasks", json={"data": {"name": "by Ada", "projects": [PROJECT]}}).json()["data"]
        assert created["created_by"]["gid"] == ADA
        story = ada.get(f"/tasks/{created['gid']}/stories", params={"opt_fields": "created_by"}).json()["data"][0]
        assert story["created_by"]["gid"] == ADA, "a system story is by whoever caused it"


def test_reopening_clears_completed_by_and_completing_again_names_the_new_user(server):
    with as_user(server, ADA_TOKEN) as ada, as_user(server, GRACE_TOKEN) as grace:
        gid = ada.post("/tasks", json={"data": {"name": "flaky", "projects": [PROJECT], "completed": True}}).json()["data"]["gid"]
        fields = {"opt_fields": "completed,completed_by,completed_at"}
        assert ada.get(f"/tasks/{gid}", params=fields).json()["data"]["completed_by"]["gid"] == ADA
        grace.put(f"/tasks/{gid}", json={"data": {"completed": False}})
        assert ada.get(f"/tasks/{gid}", params=fields).json()["data"] == {
            "gid": gid, "completed": False, "completed_by": None, "completed_at": None}
        grace.put(f"/tasks/{gid}", json={"data": {"completed": True}})
        assert ada.get(f"/tasks/{gid}", params=fields).json()["data"]["completed_by"]["gid"] == GRACE


def test_a_batch_acts_as_its_token_user(server):
    with as_user(server, GRACE_TOKEN) as grace:
        actions = [{"relative_path": "/users/me", "method": "get"},
                   {"relative_path": "/tasks", "method": "post", "data": {"name": "batched", "projects": [PROJECT]},
                    "options": {"fields": ["created_by"]}}]
        answers = grace.post("/batch", json={"data": {"actions": actions}}).json()["data"]
        assert answers[0]["body"]["data"]["gid"] == GRACE
        assert answers[1]["body"]["data"]["created_by"]["gid"] == GRACE


def test_rate_and_concurrency_limits_are_per_token():
    settings = EmulatorSettings(token=TOKEN, fixture=fixture_with_tokens(), rate_limit_per_minute=3)
    with EmulatorServer(settings) as server, as_user(server, TOKEN) as bot, as_user(server, ADA_TOKEN) as ada:
        assert [bot.get("/users/me").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert [ada.get("/users/me").status_code for _ in range(3)] == [200, 200, 200], "Ada's token has a window of its own"
        assert ada.get("/users/me").status_code == 429


def test_modified_since_lists_exactly_the_tasks_changed_since_by_anyone_in_pages_of_100(server):
    with as_user(server, TOKEN) as bot, as_user(server, ADA_TOKEN) as ada, as_user(server, GRACE_TOKEN) as grace:
        gids = [bot.post("/tasks", json={"data": {"name": f"t{n}", "projects": [PROJECT]}}).json()["data"]["gid"] for n in range(230)]
        stamps = {gid: bot.get(f"/tasks/{gid}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"] for gid in gids[:3]}
        time.sleep(0.01)
        since = bot.get(f"/tasks/{gids[-1]}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"]
        time.sleep(0.01)
        changed = {gids[0]: "comment by Grace", gids[1]: "Ada's write", gids[2]: "the bot's own write"}
        grace.post(f"/tasks/{gids[0]}/stories", json={"data": {"text": "seen"}})
        ada.put(f"/tasks/{gids[1]}", json={"data": {"notes": "edited"}})
        bot.put(f"/tasks/{gids[2]}", json={"data": {"due_on": "2031-01-02"}})
        later = {gid: bot.get(f"/tasks/{gid}", params={"opt_fields": "modified_at"}).json()["data"]["modified_at"] for gid in gids[:3]}
        assert all(later[gid] > stamps[gid] for gid in changed), "modified_at moves on each change, a comment too"
        after = bot.get("/tasks", params={"project": PROJECT, "modified_since": later[gids[1]], "opt_fields": "name"}).json()["data"]
        assert {task["gid"] for task in after} == {gids[1], gids[2]}, "since a moment: the tasks changed at it or later"
        params = {"project": PROJECT, "modified_since": since, "opt_fields": "name,modified_at", "limit": 100}
        first = bot.get("/tasks", params=params).json()
        assert {task["gid"] for task in first["data"]} == {gids[-1], *changed}, "the last task created, and the three changed"
        assert first["next_page"] is None
        everything = {"project": PROJECT, "modified_since": stamps[gids[0]], "opt_fields": "name", "limit": 100}
        seen, pages = [], 0
        while True:
            page = bot.get("/tasks", params=everything).json()
            seen += [task["gid"] for task in page["data"]]
            pages += 1
            if not page["next_page"]:
                break
            everything["offset"] = page["next_page"]["offset"]
        assert (seen, pages) == (gids, 3), "every task once, in order, 100 a page"


def test_a_task_brought_back_from_the_trash_is_paged_in_its_place(server):
    with as_user(server, TOKEN) as bot:
        gids = [bot.post("/tasks", json={"data": {"name": f"t{n}", "projects": [PROJECT]}}).json()["data"]["gid"] for n in range(5)]
        bot.delete(f"/tasks/{gids[1]}")
        assert httpx.post(f"{server.url}/_emulator/undelete/{gids[1]}").status_code == 200
        first = bot.get("/tasks", params={"project": PROJECT, "limit": 2}).json()
        second = bot.get("/tasks", params={"project": PROJECT, "limit": 100, "offset": first["next_page"]["offset"]}).json()
        assert [task["gid"] for task in first["data"] + second["data"]] == gids


@pytest.mark.parametrize(("users", "token", "expected"), [
    ([{"gid": "1", "name": "A", "email": "a@x", "token": "has space"}], TOKEN, "users[0].token must be a non-empty string without whitespace"),
    ([{"gid": "1", "name": "A", "email": "a@x", "token": 7}], TOKEN, "users[0].token must be a non-empty string"),
    ([{"gid": "1", "name": "A", "email": "a@x", "token": "same-secret"},
      {"gid": "2", "name": "B", "email": "b@x", "token": "same-secret"}], TOKEN, "users[1].token is the token of another user too"),
    ([{"gid": "1", "name": "A", "email": "a@x"}, {"gid": "2", "name": "B", "email": "b@x", "token": "same-secret"}],
     "same-secret", "a user's token is the --token, which is the token of me"),
])
def test_fixture_tokens_that_cannot_work_are_refused_without_quoting_them(users, token, expected):
    fixture = {"workspace": {"gid": "9", "name": "W"}, "users": users, "me": "1", "project": {"gid": "100", "name": "P"}}
    with pytest.raises(FixtureError) as caught:
        create_app(EmulatorSettings(token=token, fixture=fixture))
    assert expected in str(caught.value) and "same-secret" not in str(caught.value) and "has space" not in str(caught.value)


def test_me_may_carry_its_own_token_beside_the_command_lines():
    fixture = default_fixture()
    fixture["users"][0] = {**fixture["users"][0], "token": "bot-own-token"}
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture)) as server:
        for token in (TOKEN, "bot-own-token"):
            with as_user(server, token) as http:
                assert http.get("/users/me").json()["data"]["gid"] == BOT


def test_each_change_is_a_system_story_by_whoever_made_it(server):
    details = "resource_subtype,text,created_by,assignee,new_section.name,old_section.name,new_name,old_name," \
              "new_dates,old_dates,custom_field.name,new_enum_value.name,new_text_value,dependency,tag,follower,project"
    with as_user(server, TOKEN) as bot, as_user(server, ADA_TOKEN) as ada, as_user(server, GRACE_TOKEN) as grace:
        other = bot.post("/tasks", json={"data": {"name": "blocker", "projects": [PROJECT]}}).json()["data"]["gid"]
        gid = bot.post("/tasks", json={"data": {"name": "draft", "projects": [PROJECT]}}).json()["data"]["gid"]
        ada.put(f"/tasks/{gid}", json={"data": {"name": "final", "notes": "n", "assignee": GRACE, "due_on": "2031-01-02",
                                               "custom_fields": {"1200000000000303": "1200000000000312", "1200000000000301": "k"}}})
        grace.post("/sections/1200000000000402/addTask", json={"data": {"task": gid}})
        grace.put(f"/tasks/{gid}", json={"data": {"completed": True, "assignee": None, "due_on": None}})
        ada.post(f"/tasks/{gid}/addDependencies", json={"data": {"dependencies": [other]}})
        ada.post(f"/tasks/{gid}/addTag", json={"data": {"tag": "1200000000000201"}})
        ada.post(f"/tasks/{gid}/addFollowers", json={"data": {"followers": [GRACE]}})
        grace.post(f"/tasks/{gid}/removeProject", json={"data": {"project": PROJECT}})
        stories = bot.get(f"/tasks/{gid}/stories", params={"opt_fields": details}).json()["data"]
        made = [(story["resource_subtype"], story["created_by"]["gid"]) for story in stories]
        assert made == [
            ("added_to_project", BOT), ("name_changed", ADA), ("notes_changed", ADA), ("assigned", ADA), ("due_date_changed", ADA),
            ("enum_custom_field_changed", ADA), ("text_custom_field_changed", ADA), ("section_changed", GRACE),
            ("marked_complete", GRACE), ("unassigned", GRACE), ("due_date_changed", GRACE), ("dependency_added", ADA),
            ("added_to_tag", ADA), ("collaborator_added", ADA), ("removed_from_project", GRACE),
        ]
        by_kind = {story["resource_subtype"]: story for story in stories}
        assert (by_kind["name_changed"]["old_name"], by_kind["name_changed"]["new_name"]) == ("draft", "final")
        assert by_kind["assigned"]["assignee"]["gid"] == GRACE and by_kind["assigned"]["text"] == "assigned to Grace Hopper"
        assert (by_kind["section_changed"]["old_section"]["name"], by_kind["section_changed"]["new_section"]["name"]) == \
               ("To triage", "In progress")
        assert by_kind["enum_custom_field_changed"]["new_enum_value"]["name"] == "Yellow"
        assert by_kind["text_custom_field_changed"]["new_text_value"] == "k"
        assert by_kind["dependency_added"]["dependency"]["gid"] == other
        cleared = [story for story in stories if story["resource_subtype"] == "due_date_changed"][-1]
        assert cleared["old_dates"]["due_on"] == "2031-01-02" and "due_on" not in cleared["new_dates"]
