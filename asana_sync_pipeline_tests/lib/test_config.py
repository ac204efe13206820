"""Each setting is declared once, in the engine: the resource, the run config and the YAML
attributes read those declarations, and a sync job's Launchpad shows the sync's own settings."""

from asana_sync_pipeline.components.asana_sync.component import AsanaSyncComponent
from asana_sync_pipeline.definitions import build_definitions, connection_settings_from
from asana_sync_pipeline.engine.errors import SyncConfigError
from asana_sync_pipeline.engine.settings import AsanaSettings, SyncSettings
from asana_sync_pipeline.lib.config import ModelQueryConfig, SyncConfig, SyncSettingsFields
from asana_sync_pipeline.lib.resources import AsanaResource
from asana_sync_pipeline.lib.sync_spec import SyncSpec


def test_the_resource_declares_every_connection_setting_with_the_engines_default_and_description():
    fields = AsanaResource.model_fields
    for setting in AsanaSettings.described():
        assert setting.name in fields, f"AsanaResource lacks {setting.name}"
        assert fields[setting.name].default == setting.default
        assert fields[setting.name].description == setting.description
    copied = AsanaResource(access_token="0/abc", base_url="http://127.0.0.1:1/api/1.0", max_attempts=2).settings_for(SyncSpec())
    assert copied.base_url == "http://127.0.0.1:1/api/1.0" and copied.max_attempts == 2
    assert copied.requests_per_minute == AsanaSettings.setting("requests_per_minute").default


def test_run_config_and_yaml_attributes_hold_every_sync_setting_unset_by_default():
    names = [setting.name for setting in SyncSettings.described()]
    assert [name for name in SyncSettingsFields.model_fields] == names
    for name in names:
        assert SyncConfig.model_fields[name].default is None
        assert SyncSettings.setting(name).description in SyncConfig.model_fields[name].description
        assert name in AsanaSyncComponent.model_fields
    assert SyncConfig(sync_mode="insert").given_settings() == {"sync_mode": "insert"}


def test_environment_variables_set_the_settings_that_name_one():
    assert connection_settings_from({"ASANA_REQUESTS_PER_MINUTE": "150", "ASANA_BASE_URL": "http://x/api/1.0"}) == {
        "requests_per_minute": 150,
        "base_url": "http://x/api/1.0",
    }
    try:
        connection_settings_from({"ASANA_MAX_CONCURRENT_WRITES": "fifteen"})
    except SyncConfigError as exc:
        assert "ASANA_MAX_CONCURRENT_WRITES must be a positive whole number" in str(exc)
    else:
        raise AssertionError("a count that is not a number loaded")


def test_a_sync_jobs_launchpad_opens_with_the_syncs_own_settings():
    repository = build_definitions({}).get_repository_def()
    shown = repository.get_job("data_checks_asana_sync_job").run_config  # the default run config the Launchpad opens with
    payloads = shown["ops"]["data_checks__asana_task_payloads"]["config"]
    assert payloads["primary_key"] == "check_id" and payloads["sync_key_field"] == "1200000000000301"
    assert "data_checks__warehouse_model" not in shown["ops"], "data_checks reads the dbt model failed_data_checks: no query"
    assert repository.get_job("asana_sync_job").run_config["ops"]["warehouse_model"]["config"]["query"] == "SELECT * FROM asana_task_model"
    assert ModelQueryConfig().query is None
