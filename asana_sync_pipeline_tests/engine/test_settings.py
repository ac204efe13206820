"""Settings as people type them: pasting slips cleaned, everything else refused with a message that says what to do."""

import pytest

from asana_sync_pipeline.engine.errors import SyncConfigError
from asana_sync_pipeline.engine.settings import (
    AsanaSettings,
    SyncMode,
    SyncSettings,
    check_base_url,
    clean_access_token,
    positive_int,
)

TOKEN = "2/1200000000000010/1200000000000999:0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "pasted",
    [TOKEN, f" {TOKEN} ", f"{TOKEN}\n", f"{TOKEN}\r\n", f"Bearer {TOKEN}", f"bearer  {TOKEN}\n", f'"{TOKEN}"', f"'{TOKEN}'\n"],
)
def test_pasting_slips_around_a_token_are_cleaned(pasted):
    assert clean_access_token(pasted) == TOKEN


@pytest.mark.parametrize(
    ("pasted", "problem"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        ("Bearer ", "is empty"),
        (None, "is empty"),
        ("0/abc def", "contains a space or a line break inside it"),
        ("0/abc\ndef", "contains a space or a line break inside it"),
        ("0/abcdéf", "non-ASCII or control"),
        ("0/abc\x00def", "non-ASCII or control"),
    ],
)
def test_a_token_that_cannot_be_one_is_refused_without_showing_it(pasted, problem):
    with pytest.raises(SyncConfigError, match=problem) as raised:
        clean_access_token(pasted, source="MY_TOKEN")
    assert "MY_TOKEN" in str(raised.value)
    if pasted and pasted.strip():
        assert pasted.strip() not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://app.asana.com/api/1.0", "https://app.asana.com/api/1.0"),
        ("https://app.asana.com/api/1.0/", "https://app.asana.com/api/1.0"),
        (" http://127.0.0.1:8765/api/1.0 ", "http://127.0.0.1:8765/api/1.0"),
        ("", "https://app.asana.com/api/1.0"),
    ],
)
def test_good_base_urls_are_normalized(url, expected):
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8765", "does not end with /api/1.0, where Asana's API lives; did you mean 'http://127.0.0.1:8765/api/1.0'?"),
        ("https://app.asana.com/", "did you mean 'https://app.asana.com/api/1.0'?"),
        ("app.asana.com/api/1.0", "must start with https://"),
        ("127.0.0.1:8765/api/1.0", "must start with https://"),
        ("ftp://example.com/api/1.0", "must start with https://"),
        ("htps://app.asana.com/api/1.0", "for example 'https://app.asana.com/api/1.0'"),
        ("app.asana.com/api/1.0", "for example 'https://app.asana.com/api/1.0'"),
        ("https://app.asana.com/api", "did you mean 'https://app.asana.com/api/1.0'?"),
        ("https://app.asana.com/api/1.1", "did you mean 'https://app.asana.com/api/1.0'?"),
        ("https://app.asana.com/api/1.0/tasks", "did you mean 'https://app.asana.com/api/1.0'?"),
        ("http://127.0.0.1:8765/emulator/api/2.0/", "did you mean 'http://127.0.0.1:8765/emulator/api/1.0'?"),
    ],
)
def test_base_urls_that_cannot_work_are_refused_showing_the_url(url, message):
    with pytest.raises(SyncConfigError, match="ASANA_BASE_URL") as raised:
        check_base_url(url)
    assert message in str(raised.value) and url.strip() in str(raised.value)


@pytest.mark.parametrize(("value", "expected"), [("15", 15), (" 150 ", 150), (1500, 1500), ("+3", 3), (2.0, 2)])
def test_counts_accept_whole_numbers(value, expected):
    assert positive_int(value, "ASANA_MAX_CONCURRENT_WRITES") == expected


@pytest.mark.parametrize("value", ["0", 0, "-1", "fifteen", "1.5", "", True, 1.5])
def test_counts_refuse_anything_else_naming_the_setting(value):
    with pytest.raises(SyncConfigError, match="ASANA_REQUESTS_PER_MINUTE must be a positive whole number"):
        positive_int(value, "ASANA_REQUESTS_PER_MINUTE")


def test_asana_settings_check_every_field():
    settings = AsanaSettings(access_token=f"Bearer {TOKEN}\n", base_url="http://localhost:1/api/1.0/")
    assert settings.access_token == TOKEN and settings.base_url == "http://localhost:1/api/1.0"
    assert TOKEN not in repr(settings)
    for field, value in [("max_concurrent_writes", 0), ("requests_per_minute", 0), ("timeout_seconds", 0), ("max_attempts", -1)]:
        with pytest.raises(SyncConfigError, match=field):
            AsanaSettings(access_token=TOKEN, **{field: value})


def test_sync_settings_are_typed_and_checked():
    settings = SyncSettings(sync_mode=" UPSERT ", primary_key=" id ", sync_key_field=" 1200000000000301 ")
    assert settings.sync_mode is SyncMode.UPSERT and settings.primary_key == "id"
    assert settings.sync_key_field == "1200000000000301"
    assert SyncSettings(sync_key_field="").sync_key_field is None
    with pytest.raises(SyncConfigError, match="primary_key must name a column"):
        SyncSettings(primary_key="  ")
    with pytest.raises(SyncConfigError, match="sync_key_field must contain only digits"):
        SyncSettings(sync_key_field="Sync key")
    with pytest.raises(SyncConfigError, match="max_rejection_rate must be between 0 and 1"):
        SyncSettings(max_rejection_rate=5)


def test_every_setting_is_described():
    described = SyncSettings.described()
    assert [setting.name for setting in described][:4] == ["sync_mode", "primary_key", "field_mapping", "sync_key_field"]
    assert all(setting.description for setting in described + AsanaSettings.described())
