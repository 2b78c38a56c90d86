"""docker-compose.yml cannot run here (no Docker engine): check it by parsing it."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_images():
    services = compose()["services"]
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    for name in ("collector-mqtt", "collector-opcua", "detector", "ticketing", "api"):
        assert services[name]["image"] == "robowatch:latest"
        assert services[name]["build"] == "."
    assert services["simulator"]["profiles"] == ["simulator"]
    assert services["fleet-load"]["profiles"] == ["simulator"]


def test_every_long_running_service_has_a_health_check_and_restarts():
    services = compose()["services"]
    for name, svc in services.items():
        if name in ("migrate", "fleet-load"):
            assert svc["restart"] == "no"
            continue
        assert "test" in svc["healthcheck"], name
        assert svc["restart"] == "unless-stopped", name


def test_services_wait_for_a_migrated_database_and_a_healthy_broker():
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("collector-mqtt", "detector", "ticketing", "api"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["mosquitto"]["condition"] == "service_healthy"


def test_volumes_keep_data_and_commands_exist():
    doc = compose()
    assert {"tsdata", "mosquitto-data", "robowatch-state"} <= set(doc["volumes"])
    assert "tsdata:/var/lib/postgresql/data" in doc["services"]["timescaledb"]["volumes"]
    from typer.testing import CliRunner

    from robowatch.cli.main import app

    for name, svc in doc["services"].items():
        if svc.get("image") == "robowatch:latest" and "command" in svc:
            out = CliRunner().invoke(app, [*svc["command"], "--help"])
            # Each service's command line parses (options exist) as written in the file.
            assert out.exit_code == 0, (name, out.output)


def test_dockerfile_and_broker_config_are_where_compose_says():
    assert (ROOT / "Dockerfile").exists()
    conf = (ROOT / "docker" / "mosquitto.conf").read_text()
    assert "max_inflight_messages 0" in conf and "allow_anonymous false" in conf
