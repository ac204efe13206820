"""What a sync reads once per run to resolve names: custom field settings with nested
opt_fields at any depth, sections, tags and users, each paginated (limit ≤ 100, offset)."""

import pytest

PROJECT, INCIDENTS = "1200000000000100", "1200000000000120"
WORKSPACE = "1200000000000001"
ENUM, NUMBER, SEVERITY = "1200000000000303", "1200000000000302", "1200000000000307"
SCHEMA_FIELDS = (
    "custom_field.name,custom_field.resource_subtype,custom_field.enum_options.name,"
    "custom_field.enum_options.enabled,custom_field.precision"
)


def every_page(http, path: str, limit: int, **params) -> list[list[dict]]:
    pages, offset = [], None
    while True:
        query = {**params, "limit": limit, **({"offset": offset} if offset else {})}
        page = http.get(path, params=query).json()
        pages.append(page["data"])
        if page["next_page"] is None:
            return pages
        offset = page["next_page"]["offset"]


def test_custom_field_settings_answer_exactly_the_nested_fields_asked_for(http):
    settings = http.get(f"/projects/{INCIDENTS}/custom_field_settings", params={"opt_fields": SCHEMA_FIELDS}).json()["data"]
    severity = next(setting for setting in settings if setting["custom_field"]["gid"] == SEVERITY)
    assert set(severity) == {"gid", "custom_field"}
    assert severity["custom_field"]["resource_subtype"] == "enum"
    assert {"gid", "name", "enabled"} <= set(severity["custom_field"]["enum_options"][0])
    number = http.get(f"/projects/{PROJECT}/custom_field_settings", params={"opt_fields": SCHEMA_FIELDS}).json()["data"]
    assert next(s for s in number if s["custom_field"]["gid"] == NUMBER)["custom_field"]["precision"] == 0


def test_dotted_opt_fields_reach_into_nested_records_at_any_depth(http):
    task = http.post("/tasks", params={"opt_fields": "memberships.project.workspace.name,memberships.section.created_at,"
                                                     "custom_fields.enum_options.color,projects.owner.email"},
                     json={"data": {"projects": [PROJECT], "name": "deep"}}).json()["data"]
    membership = task["memberships"][0]
    assert membership["project"]["workspace"]["name"] == "Acme Analytics"
    assert membership["section"]["created_at"].endswith("Z")
    assert task["projects"][0]["owner"]["email"] == "sync-bot@acme.example"
    enum = next(field for field in task["custom_fields"] if field["gid"] == ENUM)
    assert [option["color"] for option in enum["enum_options"]] == ["green", "yellow", "red"]
    setting = http.get(f"/projects/{PROJECT}/custom_field_settings", params={"opt_fields": "project.workspace.name"}).json()["data"][0]
    assert setting["project"]["workspace"]["name"] == "Acme Analytics"


@pytest.mark.parametrize(("path", "params", "total"), [
    (f"/projects/{PROJECT}/custom_field_settings", {}, 6),
    (f"/projects/{INCIDENTS}/sections", {}, 3),
    (f"/workspaces/{WORKSPACE}/tags", {}, None),
    ("/users", {"workspace": WORKSPACE, "opt_fields": "email"}, 6),
])
def test_schema_listings_page_with_limit_and_offset(http, path, params, total):
    pages = every_page(http, path, 2, **params)
    items = [item for page in pages for item in page]
    assert all(len(page) <= 2 for page in pages) and len({item["gid"] for item in items}) == len(items)
    assert total is None or len(items) == total
    assert items == http.get(path, params={**params, "limit": 100}).json()["data"]
    assert http.get(path, params={**params, "limit": 101}).status_code == 400


def test_users_of_the_workspace_carry_their_emails_when_asked(http):
    users = http.get("/users", params={"workspace": WORKSPACE, "opt_fields": "email,name", "limit": 100}).json()["data"]
    assert [user["email"] for user in users][:2] == ["sync-bot@acme.example", "ada@acme.example"]
    listed = http.get(f"/workspaces/{WORKSPACE}/users").json()
    assert set(listed) == {"data"}, "this listing is not paginated in Asana's spec"
    assert [user["name"] for user in listed["data"]][:2] == ["Ada Lovelace", "Alan Turing"]
