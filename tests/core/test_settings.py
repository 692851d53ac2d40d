from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, load_settings


def test_defaults_need_no_configuration():
    settings = load_settings(environ={})
    assert isinstance(settings, Settings)
    assert settings.database_url is None and settings.redis_url is None
    assert settings.plugins is None
    assert settings.port == 8000
    assert settings.data_dir.name == "creator-platform"


def test_environment_variables_are_typed():
    settings = load_settings(
        environ={
            "CREATOR_PORT": "9001",
            "CREATOR_PLUGINS": "website, clone,",
            "CREATOR_DATA_DIR": "/tmp/somewhere",
            "CREATOR_MIGRATE_ON_START": "false",
            "CREATOR_DATABASE_URL": "postgresql://db.example/creator",
        }
    )
    assert settings.port == 9001
    assert settings.plugins == ["website", "clone"]
    assert settings.data_dir == Path("/tmp/somewhere")
    assert settings.migrate_on_start is False
    assert settings.database_url == "postgresql://db.example/creator"


def test_toml_file_then_environment_then_overrides(tmp_path):
    config = tmp_path / "creator.toml"
    config.write_text('port = 7000\nhost = "0.0.0.0"\nplugins = ["website"]\nlog_level = "debug"\n')
    settings = load_settings(environ={"CREATOR_PORT": "7001"}, config_file=config)
    assert settings.host == "0.0.0.0"  # from the file
    assert settings.port == 7001  # the environment wins over the file
    assert settings.plugins == ["website"]
    assert (
        load_settings(environ={"CREATOR_PORT": "7001"}, config_file=config, port=7002).port == 7002
    )


def test_config_file_from_environment(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("port = 7100\n")
    assert load_settings(environ={"CREATOR_CONFIG": str(config)}).port == 7100


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"CREATOR_PORT": "eighty"}, "CREATOR_PORT"),
        ({"CREATOR_PORT": "70000"}, "port"),
        ({"CREATOR_DB_POOL_MAX_SIZE": "0"}, "db_pool_max_size"),
        ({"CREATOR_LOG_LEVEL": "loud"}, "log_level"),
        ({"CREATOR_MIGRATE_ON_START": "perhaps"}, "CREATOR_MIGRATE_ON_START"),
        ({"CREATOR_STREAM_MAX_PER_PERSON": "0"}, "CREATOR_STREAM_MAX_PER_PERSON"),
        ({"CREATOR_STREAM_MAX_PER_GROUP": "-1"}, "CREATOR_STREAM_MAX_PER_GROUP"),
        ({"CREATOR_STREAM_RETENTION_EVENTS": "5"}, "CREATOR_STREAM_RETENTION_EVENTS"),
        ({"CREATOR_STREAM_CLIENT_BUFFER_EVENTS": "0"}, "CREATOR_STREAM_CLIENT_BUFFER_EVENTS"),
    ],
)
def test_bad_environment_value_names_the_setting(environ, names):
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    assert names in str(caught.value)


def test_bad_toml_value_names_key_and_file(tmp_path):
    config = tmp_path / "creator.toml"
    config.write_text('port = "high"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, config_file=config)
    assert "'port'" in str(caught.value) and str(config) in str(caught.value)


def test_unknown_toml_key_is_refused_with_the_known_ones(tmp_path):
    config = tmp_path / "creator.toml"
    config.write_text("prot = 80\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, config_file=config)
    assert "'prot'" in str(caught.value) and "port" in str(caught.value)


def test_invalid_toml_and_missing_file(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(environ={}, config_file=broken)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(environ={}, config_file=tmp_path / "absent.toml")


def test_bad_override_names_the_option():
    with pytest.raises(SettingsError, match="--port"):
        load_settings(environ={}, port=-5)


def test_forwarded_allow_ips_are_addresses_or_networks():
    assert load_settings(environ={}).forwarded_allow_ips is None  # uvicorn's own default
    settings = load_settings(environ={"CREATOR_FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.0.2.7,"})
    assert settings.forwarded_allow_ips == ["10.0.0.0/8", "192.0.2.7"]
    assert load_settings(environ={}, forwarded_allow_ips=["*"]).forwarded_allow_ips == ["*"]
    for bad, why in (
        ("proxy.local", "'proxy.local' is not an address"),
        ("10.0.0.5/8", "host bits"),  # uvicorn would never match it
        ("*,10.0.0.1", "stands alone"),
    ):
        with pytest.raises(SettingsError, match="CREATOR_FORWARDED_ALLOW_IPS") as caught:
            load_settings(environ={"CREATOR_FORWARDED_ALLOW_IPS": bad})
        assert why in str(caught.value), bad


@pytest.mark.parametrize("source", ["environment", "file"])
def test_a_short_secret_key_is_refused_naming_where_it_came_from(tmp_path, source):
    short = "x" * 31
    if source == "environment":
        with pytest.raises(SettingsError) as raised:
            load_settings(environ={"CREATOR_SECRET_KEY": short})
        assert "CREATOR_SECRET_KEY" in str(raised.value)
    else:
        config = tmp_path / "creator.toml"
        config.write_text(f'secret_key = "{short}"\n')
        with pytest.raises(SettingsError) as raised:
            load_settings(environ={}, config_file=config)
        assert "'secret_key'" in str(raised.value) and str(config) in str(raised.value)
    assert "at least 32 characters" in str(raised.value)
    assert short not in str(raised.value)  # the message never echoes a secret
    assert load_settings(environ={"CREATOR_SECRET_KEY": "x" * 32}).secret_key == "x" * 32


def test_the_generated_secret_key_is_long_enough_and_a_short_kept_one_is_refused(tmp_path):
    from core.auth.secrets import signing_secret
    from core.settings import MIN_SECRET_KEY_LENGTH

    settings = load_settings(environ={}, data_dir=str(tmp_path))
    generated = signing_secret(settings)
    assert len(generated) >= MIN_SECRET_KEY_LENGTH
    assert signing_secret(settings) == generated  # kept, not regenerated
    (tmp_path / "secret_key").write_text("short")
    with pytest.raises(SettingsError) as raised:
        signing_secret(settings)
    assert str(tmp_path / "secret_key") in str(raised.value)
