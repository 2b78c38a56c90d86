import pytest
from pydantic import ValidationError

from robowatch.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("ROBOWATCH_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_use_embedded_services_and_local_api():
    s = Settings()
    assert s.database_url is None and s.mqtt_url is None
    assert (s.api.host, s.api.port) == ("127.0.0.1", 8000)
    assert str(s.home) == ".robowatch"


def test_environment_short_and_nested_forms(monkeypatch):
    monkeypatch.setenv("ROBOWATCH_API_PORT", "9000")
    monkeypatch.setenv("ROBOWATCH_MQTT_URL", "mqtt://broker:1883")
    monkeypatch.setenv("ROBOWATCH_OPCUA_ENDPOINTS", '[{"url": "opc.tcp://cell:4840"}]')
    s = Settings()
    assert s.api.port == 9000 and s.mqtt_url == "mqtt://broker:1883"
    assert [e.url for e in s.opcua_endpoints] == ["opc.tcp://cell:4840"]


def test_toml_file_is_read_and_environment_wins(monkeypatch, tmp_path):
    (tmp_path / "robowatch.toml").write_text(
        'database_url = "postgresql://db/robowatch"\n[api]\nport = 8100\n')
    assert Settings().database_url == "postgresql://db/robowatch"
    assert Settings().api.port == 8100
    monkeypatch.setenv("ROBOWATCH_DATABASE_URL", "postgresql://other/robowatch")
    assert Settings().database_url == "postgresql://other/robowatch"


@pytest.mark.parametrize(("key", "value"), [
    ("ROBOWATCH_MQTT_URL", "http://broker"),
    ("ROBOWATCH_OPCUA_ENDPOINTS", '[{"url": "http://cell"}]'),
    ("ROBOWATCH_API_PORT", "99999"),
])
def test_bad_values_are_refused_with_the_setting_named(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError):
        Settings()


def test_blank_url_means_unset(monkeypatch):
    monkeypatch.setenv("ROBOWATCH_DATABASE_URL", " ")
    assert Settings().database_url is None


def test_auth_settings_reach_the_api_from_environment_and_toml(monkeypatch, tmp_path):
    from datetime import timedelta

    from api.config import ApiConfig

    assert Settings().auth.api_options() == {}  # unset: the API's own defaults
    (tmp_path / "robowatch.toml").write_text(
        '[auth]\ntoken_ttl = "12h"\nlogin_window = "30m"\ncookie_secure = true\n')
    monkeypatch.setenv("ROBOWATCH_AUTH__LOGIN_FAILURES_PER_USER", "3")
    options = Settings().auth.api_options()
    assert options == {"token_ttl": timedelta(hours=12), "login_window": timedelta(minutes=30),
                       "cookie_secure": True, "login_failures_per_user": 3}
    config = ApiConfig(database_url="postgresql://db/robowatch", **options)
    assert (config.token_ttl, config.login_failures_per_user) == (timedelta(hours=12), 3)


@pytest.mark.parametrize(("key", "value"), [
    ("TOKEN_TTL", "0m"), ("TOKEN_TTL", "eight hours"), ("LOGIN_FAILURES_PER_ADDRESS", "0"),
    ("COOKIE_NAME", "a=b"), ("COOKIE_SECURE", "perhaps"),
])
def test_bad_auth_settings_are_refused(monkeypatch, key, value):
    monkeypatch.setenv(f"ROBOWATCH_AUTH__{key}", value)
    with pytest.raises(ValidationError, match=key.lower()):
        Settings()


def test_api_workers_default_to_the_usable_cpus_and_can_be_set(monkeypatch):
    assert Settings().api.workers is None
    assert Settings().api.worker_count() == len(__import__("os").sched_getaffinity(0))
    monkeypatch.setenv("ROBOWATCH_API__WORKERS", "3")
    assert Settings().api.worker_count() == 3
    monkeypatch.setenv("ROBOWATCH_API__WORKERS", "0")
    with pytest.raises(ValidationError):
        Settings()
