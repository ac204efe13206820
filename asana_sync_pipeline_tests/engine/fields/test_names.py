"""Values by name against a project schema, table-driven per type: what resolves to which GIDs,
what is rejected with which choices, and what is a configuration error."""

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from asana_sync_pipeline.engine.errors import SyncConfigError
from asana_sync_pipeline.engine.fields.mapping import resolve_mapping
from asana_sync_pipeline.engine.fields.names import (
    api_custom_value,
    custom_field_rule,
    custom_fields_rule,
    section_rule,
    tags_rule,
    user_rule,
    users_rule,
)
from asana_sync_pipeline.engine.fields.rule_selection import schema_needs
from asana_sync_pipeline.engine.fields.schema import Catalog, CustomField, Named, ProjectSchema, SchemaNeeds
from asana_sync_pipeline.engine.fields.value_rules import FieldValueError
from asana_sync_pipeline.engine.planning import build_plan
from asana_sync_pipeline.engine.settings import SyncSettings

TIER = CustomField("301", "Customer Tier", "enum", options=Catalog(
    [Named("11", "Gold"), Named("12", "Silver"), Named("13", "Bronze"), Named("14", "Legacy", enabled=False)], "option"
))  # fmt: skip
PRODUCTS = CustomField("302", "Produits achetés", "multi_enum", options=Catalog(
    [Named("21", "Analytics"), Named("22", "Warehouse"), Named("23", "Reverse ETL")], "option"
))  # fmt: skip
ARR = CustomField("303", "ARR (USD)", "number", precision=2)
RENEWAL = CustomField("304", "Renewal date", "date")
OWNER = CustomField("305", "Account executive", "people")
NOTE = CustomField("306", "Note", "text")
FORMULA = CustomField("307", "Score", "number", writable=False)


def schema(**overrides) -> ProjectSchema:
    built = ProjectSchema(
        project_gid="100",
        workspace_gid="1",
        me_gid="10",
        fields={spec.gid: spec for spec in (TIER, PRODUCTS, ARR, RENEWAL, OWNER, NOTE, FORMULA)},
        sections=Catalog([Named("401", "To do"), Named("402", "Doing"), Named("403", "Done")], "section"),
        tags=Catalog([Named("201", "vip"), Named("202", "At risk"), Named("203", "Renewal")], "tag"),
        users_by_email={"ada@acme.example": "11", "grace@acme.example": "12"},
        user_gids={"10", "11", "12"},
    )
    for name, value in overrides.items():
        setattr(built, name, value)
    return built


@pytest.mark.parametrize(
    ("spec", "value", "canonical", "sent"),
    [
        (TIER, "Gold", "11", "11"),
        (TIER, "  silver ", "12", "12"),
        (TIER, "13", "13", "13"),
        (PRODUCTS, "analytics, Reverse ETL", "21,23", ["21", "23"]),
        (PRODUCTS, ["Warehouse", "21", "warehouse"], "22,21", ["22", "21"]),
        (ARR, 120000, "120000", Decimal("120000")),
        (ARR, "1234.5678", "1234.57", Decimal("1234.57")),
        (ARR, "0.005", "0.01", Decimal("0.01")),
        (ARR, Decimal("12345678901234567890.12"), "12345678901234567890.12", Decimal("12345678901234567890.12")),
        (RENEWAL, "2027-01-31", "2027-01-31", {"date": "2027-01-31"}),
        (RENEWAL, date(2027, 1, 31), "2027-01-31", {"date": "2027-01-31"}),
        (OWNER, "ADA@acme.example, me", "11,me", ["11", "me"]),
        (OWNER, ["12"], "12", ["12"]),
        (NOTE, "Café crème", "Café crème", "Café crème"),
    ],
)
def test_custom_field_values_by_name_resolve_to_what_asana_takes(spec, value, canonical, sent):
    rule = custom_field_rule(spec, schema())
    assert rule(value) == canonical
    assert api_custom_value(spec.subtype, canonical) == sent


@pytest.mark.parametrize(
    ("spec", "value", "reason"),
    [
        (TIER, "Platinum", "Customer Tier: no option 'Platinum'; options: Gold, Silver, Bronze"),
        (TIER, "legacy", "Customer Tier: option 'Legacy' is disabled; options: Gold, Silver, Bronze"),
        (PRODUCTS, "Analytics, Lakehouse", "Produits achetés: no option 'Lakehouse'; options: Analytics, Warehouse, Reverse ETL"),
        (ARR, "lots", "ARR (USD): expected a number, got 'lots'"),
        (ARR, "inf", "ARR (USD): expected a finite number"),
        (RENEWAL, "31/01/2027", "Renewal date: expected a date as YYYY-MM-DD"),
        (OWNER, "nobody@elsewhere.example", "'nobody@elsewhere.example' is not the email of a user of the workspace"),
        (OWNER, "Ada Lovelace", "display names are not accepted"),
        (NOTE, "x" * 1025, "Note: text fields hold at most 1,024 characters"),
    ],
)
def test_bad_values_are_rejected_naming_the_field_the_value_and_the_choices(spec, value, reason):
    with pytest.raises(FieldValueError) as raised:
        custom_field_rule(spec, schema())(value)
    assert reason in str(raised.value)


def test_a_computed_field_is_a_configuration_error():
    with pytest.raises(SyncConfigError, match="'Score' is computed by Asana"):
        custom_field_rule(FORMULA, schema())(3)


def test_choices_are_listed_up_to_ten():
    many = CustomField("9", "Region", "enum", options=Catalog([Named(str(n), f"R{n}") for n in range(25)], "option"))
    with pytest.raises(FieldValueError) as raised:
        custom_field_rule(many, schema())("Mars")
    assert str(raised.value) == "Region: no option 'Mars'; options: R0, R1, R2, R3, R4, R5, R6, R7, R8, R9"


def test_tags_by_name_or_gid_mixed_in_one_cell():
    rule = tags_rule(schema())
    assert rule("vip, 202, renewal") == "201,202,203"
    assert rule(["At Risk", "vip"]) == "202,201"
    with pytest.raises(FieldValueError, match="tags: no tag 'platinum'; tags: vip, At risk, Renewal"):
        rule("vip, platinum")
    assert tags_rule(schema(), create_missing=True)("vip, platinum") == "201,new:platinum"


def test_names_equal_up_to_case_are_a_configuration_error_listing_them():
    twins = schema(tags=Catalog([Named("201", "VIP"), Named("209", "vip ")], "tag"))
    twins.tags = Catalog([Named("201", "VIP"), Named("209", "Vip")], "tag")
    with pytest.raises(SyncConfigError, match=r"2 tags are named 'vip' \(up to case\): 'VIP' \(201\), 'Vip' \(209\)"):
        tags_rule(twins)("vip")
    assert tags_rule(twins)("VIP") == "201"


def test_sections_by_name_or_gid():
    rule = section_rule(schema())
    assert (rule("doing"), rule("403")) == ("402", "403")
    with pytest.raises(FieldValueError, match="section: no section 'Blocked'; sections: To do, Doing, Done"):
        rule("Blocked")
    assert section_rule(schema(), create_missing=True)("Blocked") == "new:Blocked"


def test_people_are_checked_against_the_workspace():
    assert user_rule(schema())("Grace@acme.example") == "12"
    assert user_rule(schema())("me") == "me"
    assert users_rule(schema())("ada@acme.example, 12") == "11,12"
    with pytest.raises(FieldValueError, match="no user 1299 in the workspace"):
        user_rule(schema())("1299")


def test_the_custom_fields_column_takes_names_and_labels_too():
    rule = custom_fields_rule(schema())
    assert rule('{"Customer Tier": "gold", "303": 99.999, "Produits achetés": "Analytics"}') == (
        '{"301":"11","302":["21"],"303":100}'
    )
    with pytest.raises(FieldValueError, match="custom_fields: the project has no custom field 'Tier'"):
        rule('{"Tier": "Gold"}')
    with pytest.raises(FieldValueError, match="'Score' is computed by Asana"):
        rule('{"Score": 3}')
    assert custom_fields_rule(None)('{"303": 5}') == '{"303":5}'
    with pytest.raises(FieldValueError, match="is a name"):
        custom_fields_rule(None)('{"Customer Tier": "Gold"}')


def test_only_the_parts_of_the_schema_a_model_needs_are_read():
    def needs(**columns) -> SchemaNeeds:
        frame = pd.DataFrame({"id": ["a"], **columns})
        return schema_needs(frame, resolve_mapping(list(frame.columns), SyncSettings()))

    assert not needs(name=["x"], tags=["201, 202"], assignee=["11"], section=["401"], custom_fields=['{"303": 5}'])
    assert needs(tags=["vip"]) == SchemaNeeds(tags=True)
    assert needs(assignee=["ada@acme.example"]) == SchemaNeeds(users=True)
    assert needs(section=["Doing"]) == SchemaNeeds(sections=True)
    assert needs(**{"custom_fields.Customer Tier": ["Gold"]}) == SchemaNeeds(custom_fields=True)
    assert needs(custom_fields=['{"Customer Tier": "Gold"}']).custom_fields


def test_a_plan_keys_custom_fields_by_gid_so_renaming_a_column_or_an_option_resends_nothing():
    frame = pd.DataFrame({"id": ["a"], "name": ["A"], "custom_fields.Customer Tier": ["Gold"]})
    plan = build_plan(frame, SyncSettings(), schema=schema())
    renamed_column = build_plan(frame.rename(columns={"custom_fields.Customer Tier": "custom_fields.301"}), SyncSettings(), schema=schema())
    renamed_option = schema()
    renamed_option.fields = {**renamed_option.fields, "301": CustomField("301", "Customer Tier", "enum", options=Catalog(
        [Named("11", "Or"), Named("12", "Silver"), Named("13", "Bronze")], "option"))}  # fmt: skip
    by_gid = pd.DataFrame({"id": ["a"], "name": ["A"], "custom_fields.Customer Tier": ["11"]})
    assert plan.row(0).payload_hash == renamed_column.row(0).payload_hash
    assert plan.row(0).payload_hash == build_plan(by_gid, SyncSettings(), schema=renamed_option).row(0).payload_hash
    assert plan.request_body(plan.row(0), "100", for_update=False)["custom_fields"] == {"301": "11"}
    silver = build_plan(frame.assign(**{"custom_fields.Customer Tier": ["Silver"]}), SyncSettings(), schema=schema())
    assert silver.row(0).payload_hash != plan.row(0).payload_hash


def test_an_unknown_custom_field_column_is_a_configuration_error_listing_the_fields():
    frame = pd.DataFrame({"id": ["a"], "name": ["A"], "custom_fields.Tier": ["Gold"]})
    with pytest.raises(SyncConfigError, match=r"the project has no custom field 'Tier'; its fields: Customer Tier, Produits achetés"):
        build_plan(frame, SyncSettings(), schema=schema())


def test_a_plan_without_schema_keeps_names_unchecked_and_says_so():
    frame = pd.DataFrame(
        {"id": ["a", "b"], "name": ["A", "B"], "tags": ["vip", None], "custom_fields.Customer Tier": ["Gold", None],
         "assignee": ["ana@acme.example", "1200000000000013"]}
    )  # fmt: skip
    plan = build_plan(frame, SyncSettings())
    assert plan.unchecked == {"tags": 1, "custom_fields.Customer Tier": 1, "assignee": 1}
    assert any("not checked against the project" in note for note in plan.notes)


def test_pending_names_are_replaced_by_the_created_gids_and_the_hash_follows():
    frame = pd.DataFrame({"id": ["a", "b"], "name": ["A", "B"], "tags": ["vip, platinum", "vip"], "section": ["Blocked", "Doing"]})
    settings = SyncSettings(create_missing_tags=True, create_missing_sections=True)
    plan = build_plan(frame, settings, schema=schema())
    assert plan.pending == {"tags": ["platinum"], "section": ["Blocked"]}
    done = plan.with_created({"tags": {"platinum": "299"}, "section": {"Blocked": "499"}})
    assert done.request_body(done.row(0), "100", for_update=False)["tags"] == ["201", "299"]
    assert done.request_body(done.row(0), "100", for_update=False)["memberships"] == [{"project": "100", "section": "499"}]
    existing = schema()
    existing.tags = Catalog([*existing.tags.items, Named("299", "platinum")], "tag")
    existing.sections = Catalog([*existing.sections.items, Named("499", "Blocked")], "section")
    planned_later = build_plan(frame, settings, schema=existing)
    assert list(done.payload_hashes()) == list(planned_later.payload_hashes())
    assert done.row(1).payload_hash == plan.row(1).payload_hash


def test_options_and_sections_named_alike_reject_the_row_while_tags_stop_the_sync():
    twin_options = CustomField("9", "Tier", "enum", options=Catalog([Named("1", "Gold"), Named("2", "gold")], "option"))
    with pytest.raises(FieldValueError, match=r"Tier: 2 options are named 'GOLD' \(up to case\)"):
        custom_field_rule(twin_options, schema())("GOLD")
    assert custom_field_rule(twin_options, schema())("gold") == "2"
    twin_sections = schema(sections=Catalog([Named("401", "Doing"), Named("402", "doing")], "section"))
    with pytest.raises(FieldValueError, match=r"section: 2 sections are named 'DOING'"):
        section_rule(twin_sections)("DOING")


def test_text_that_reads_like_a_name_marker_is_not_reported_as_unchecked_names():
    frame = pd.DataFrame({"id": ["a"], "name": ["name: Alice"], "notes": ["new: tag, name: Bob"]})
    plan = build_plan(frame, SyncSettings())
    assert plan.unchecked == {}
    assert not any("not checked against the project" in note for note in plan.notes)
    assert plan.request_body(plan.row(0), "100", for_update=False)["name"] == "name: Alice"
