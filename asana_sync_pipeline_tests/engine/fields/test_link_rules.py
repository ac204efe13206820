"""The columns that link a task to others and to the web: `depends_on` (rows' keys) and `attachments`
(links), each value checked and made canonical once; `projects` by name or GID, each one the token sees."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from asana_sync_pipeline.engine.errors import FieldValueError
from asana_sync_pipeline.engine.fields.names import projects_rule
from asana_sync_pipeline.engine.fields.schema import Catalog, Named, ProjectSchema
from asana_sync_pipeline.engine.fields.value_rules import attachment_links, row_keys


@pytest.mark.parametrize(
    ("cell", "keys"),
    [
        ("a", ["a"]),
        ("a, b,a", ["a", "b"]),
        (7, ["7"]),
        (7.0, ["7"]),
        (Decimal("7.50"), ["7.5"]),
        (["x", 1, None], ["x", "1"]),
        (np.array(["x", "y"], dtype=object), ["x", "y"]),
        ('["acme, inc", "beta"]', ["acme, inc", "beta"]),
        ("", []),
    ],
)
def test_depends_on_takes_one_key_or_a_list_and_compares_numbers_as_keys_do(cell, keys):
    assert json.loads(row_keys(cell)) == keys


def test_depends_on_refuses_what_cannot_be_a_key():
    with pytest.raises(FieldValueError):
        row_keys([True])


@pytest.mark.parametrize(
    ("cell", "links"),
    [
        ("https://dash.example/a", [["https://dash.example/a", "https://dash.example/a"]]),
        ("https://a.example/1 https://b.example/2", [["https://a.example/1", "https://a.example/1"], ["https://b.example/2", "https://b.example/2"]]),
        ("https://a.example/1,https://b.example/q?x=1,2", [["https://a.example/1", "https://a.example/1"], ["https://b.example/q?x=1,2", "https://b.example/q?x=1,2"]]),
        ('{"url": "https://a.example/c", "name": "Contract"}', [["https://a.example/c", "Contract"]]),
        ('["https://a.example/c"]', [["https://a.example/c", "https://a.example/c"]]),
        ([{"url": "https://a.example/c", "name": "Contract"}, "https://a.example/c"], [["https://a.example/c", "Contract"]]),
        ('[{"url": "https://a.example/d", "name": " Dashboard "}, "http://b.example"]', [["https://a.example/d", "Dashboard"], ["http://b.example", "http://b.example"]]),
    ],
)
def test_attachments_take_links_or_url_and_name_objects(cell, links):
    assert json.loads(attachment_links(cell)) == links


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("ftp://files.example/x", r"is not an http\(s\) link"),
        ("dashboard", r"is not an http\(s\) link"),
        ("the dashboard", r"'the dashboard' is not an http\(s\) link"),
        ('{"url": "https://a.example", "title": "x"}', "not title"),
        ([{"name": "no link"}], "needs a url"),
    ],
)
def test_an_attachment_that_is_not_a_web_link_rejects_its_row(cell, reason):
    with pytest.raises(FieldValueError, match=reason):
        attachment_links(cell)


def schema_with_projects() -> ProjectSchema:
    schema = ProjectSchema("100", "1")
    schema.projects = Catalog([Named("110", "Quarterly Business Reviews"), Named("120", "Data Quality Incidents")], "project")
    return schema


def test_projects_are_named_or_given_by_gid_and_each_must_be_one_the_token_sees():
    rule = projects_rule(schema_with_projects())
    assert rule("quarterly business reviews, 120") == "110,120"
    with pytest.raises(FieldValueError, match="project 199 cannot be seen by the sync's token"):
        rule("199")
    with pytest.raises(FieldValueError, match="no project 'Regional board'.*Quarterly Business Reviews"):
        rule("Regional board")


def test_without_the_projects_read_gids_pass_and_names_wait_to_be_checked():
    assert projects_rule(None)("110, Regional board") == "110,name:Regional board"
