"""The workspace's projects as the token's user sees them (`GET /workspaces/{gid}/projects`): the ones it
may read, paged, never those it may not (a 403 everywhere else)."""

from asana_sync_pipeline_tests.emulator.conftest import client_for

WORKSPACE, FORBIDDEN = "1200000000000001", "1200000000000199"


def test_the_projects_the_user_can_see_are_listed_by_name_and_paged(server):
    with client_for(server) as http:
        listed = http.get(f"/workspaces/{WORKSPACE}/projects", params={"opt_fields": "name"}).raise_for_status().json()
        names = [project["name"] for project in listed["data"]]
        assert names == ["Customer Success Follow-ups", "Quarterly Business Reviews", "Data Quality Incidents"]
        assert FORBIDDEN not in {project["gid"] for project in listed["data"]}
        first = http.get(f"/workspaces/{WORKSPACE}/projects", params={"limit": 2}).raise_for_status().json()
        assert len(first["data"]) == 2 and first["next_page"]["offset"]
        rest = http.get(f"/workspaces/{WORKSPACE}/projects", params={"limit": 2, "offset": first["next_page"]["offset"]}).json()
        assert [project["gid"] for project in first["data"] + rest["data"]] == [project["gid"] for project in listed["data"]]
        assert http.get("/workspaces/999/projects").status_code == 404
