"""The deployment files agree with the code: docker-compose.yml, deploy/Dockerfile.*, the
systemd units and their environment file, and the deployment guide.

Neither Docker nor systemd runs where the tests run, so nothing else would notice when a
setting is renamed, a module moves or a file is deleted: these read the files and compare.
Each check is a function that returns what is wrong, so it is also tried on a broken copy
(a check that cannot fail proves nothing).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]

from bot.assistant_model import rasa_environment
from bot.settings import Settings
from gateway.cli import app as cli_app

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
GATEWAY_DOCKERFILE = ROOT / "deploy" / "Dockerfile.gateway"
RASA_DOCKERFILE = ROOT / "deploy" / "Dockerfile.rasa"
SYSTEMD = ROOT / "deploy" / "systemd"
GUIDE = ROOT / "deploy" / "README.md"
SCALED_ENDPOINTS = ROOT / "deploy" / "endpoints.scaled.yml"
# Where the systemd units expect a checkout of this repository.
INSTALL_ROOT = "/opt/caricom/"
# Made on the host by `make setup` and `make model`, not kept in the repository.
BUILT_ON_HOST = (".venv/", ".venv-rasa/", "models/")

SETTINGS = frozenset(Settings.model_fields)
ENDPOINT_VARIABLES = frozenset(re.findall(r"\$\{(\w+)\}", SCALED_ENDPOINTS.read_text()))


def _rasa_process_variables() -> frozenset[str]:
    """What the product sets for Rasa processes itself (bot.assistant_model)."""
    with mock.patch.dict(os.environ, clear=True):
        return frozenset(rasa_environment())


# Read by the Rasa processes themselves: the tracker store's connection pool (Rasa 3.6,
# rasa/core/constants.py), the action server's address (rasa_sdk), the channel's token
# (connectors/gateway.py), the platform the lookups read (actions/platform.py).
PLATFORM_VARIABLES = frozenset({"PLATFORM_API_URL", "PLATFORM_API_TOKEN"})
RASA_OWN_VARIABLES = (
    frozenset({"SQL_POOL_SIZE", "SQL_MAX_OVERFLOW", "SANIC_HOST", "RASA_CHANNEL_TOKEN"})
    | PLATFORM_VARIABLES
)
RASA_VARIABLES = ENDPOINT_VARIABLES | RASA_OWN_VARIABLES | _rasa_process_variables()
# Read by the official postgres image to create its first user and database.
POSTGRES_IMAGE_VARIABLES = frozenset({"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"})
# The interpreter and pip, in the images' ENV lines.
INTERPRETER_VARIABLE = re.compile(r"^(PYTHON\w*|PIP_\w+|HOME)$")


# Reading the files ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


def procfile(path: Path) -> dict[str, list[str]]:
    """Process name -> its command, split as a shell would."""
    commands = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = shlex.split(command)
    return commands


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> every value given (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def unit_command(path: Path, key: str = "ExecStart") -> list[str]:
    [command] = unit(path)["Service"][key]
    return shlex.split(command.lstrip("-@+!:"))


def unit_environment(path: Path) -> set[str]:
    names: set[str] = set()
    for value in unit(path).get("Service", {}).get("Environment", []):
        names |= {assignment.split("=", 1)[0] for assignment in shlex.split(value)}
    return names


def env_file_names(path: Path) -> set[str]:
    """Variables an EnvironmentFile sets, counting commented-out examples (`# NAME=…`)."""
    found = re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", path.read_text(), flags=re.M)
    return set(found)


def dockerfile_stages(path: Path) -> dict[str, list[str]]:
    """Stage name (or "" for an unnamed one) -> its instructions, continuation lines joined."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in path.read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            words = line.split()
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else ""
            current = stages.setdefault(name, [])
        current.append(line)
    return stages


def dockerfile_cmd(instructions: list[str]) -> list[str]:
    commands = [i for i in instructions if i.upper().startswith("CMD ")]
    assert commands, "no CMD"
    value = yaml.safe_load(commands[-1][4:])  # the exec (JSON) form
    assert isinstance(value, list)
    return [str(part) for part in value]


def services_built_from(dockerfile: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for name, service in compose()["services"].items():
        build = service.get("build") or {}
        if (ROOT / str(build.get("dockerfile", ""))).resolve() == dockerfile.resolve():
            found[name] = service
    return found


# The checks (each returns what is wrong) -------------------------------------------------------


def unknown(names: Iterable[str], known: Iterable[str]) -> set[str]:
    return set(names) - set(known)


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def gateway_command_problems(command: list[str]) -> list[str]:
    """How `command` differs from the Procfile's way of starting a gateway."""
    [expected] = [c for c in procfile(ROOT / "Procfile").values() if "uvicorn" in c[0]]
    target = next(word for word in expected if ":" in word and not word.startswith("-"))
    problems = []
    if not command or not command[0].endswith("uvicorn"):
        problems.append(f"not uvicorn: {command[:1]}")
    if target not in command:
        problems.append(f"does not serve {target}")
    if "--factory" not in command:
        problems.append("no --factory (the target is an app factory)")
    return problems


def rasa_command_problems(command: list[str], process: str) -> list[str]:
    """How `command` differs from Procfile.scaled's `process` (rasa or actions)."""
    expected = procfile(ROOT / "Procfile.scaled")[process]
    problems = []
    words = [w for w in command if not w.startswith("-")][:3]
    wanted = ["run", "actions"] if process == "actions" else ["run"]
    if not command or not command[0].endswith("rasa") or words[1 : 1 + len(wanted)] != wanted:
        problems.append(f"not `rasa {' '.join(wanted)}`: {command[:3]}")
    for flag in ("--endpoints", "--credentials", "--actions"):
        if option(expected, flag) != option(command, flag):
            problems.append(f"{flag} {option(command, flag)} != {option(expected, flag)}")
    files = [option(command, "--endpoints"), option(command, "--credentials")]
    package = option(command, "--actions")  # a module path: actions, or actions.sub
    if package is not None:
        files.append(package.replace(".", "/"))
    for path in missing_paths(f for f in files if f is not None):
        problems.append(f"{path} does not exist")
    return problems


def missing_paths(paths: Iterable[str]) -> list[str]:
    """Repository paths (relative, or under INSTALL_ROOT) that do not exist."""
    missing = []
    for path in paths:
        relative = path.removeprefix(INSTALL_ROOT).removeprefix("./").lstrip("-")
        if relative.startswith("/") or relative.startswith(BUILT_ON_HOST) or "$" in relative:
            continue  # outside the repository, made on the host, or given at deploy time
        if not (ROOT / relative).exists():
            missing.append(path)
    return missing


def paths_in_unit(path: Path) -> Iterator[str]:
    service = unit(path)["Service"]
    yield from service.get("WorkingDirectory", [])
    for key in ("ExecStart", "ExecStartPre", "ExecStartPost"):
        for value in service.get(key, []):
            for word in shlex.split(value.lstrip("-@+!:")):
                if word.startswith(INSTALL_ROOT) or word.endswith((".yml", ".yaml")):
                    yield word


def cli_command_problems(text: str) -> list[str]:
    """`python -m gateway.cli …` commands in `text` that the CLI does not have."""
    root = typer.main.get_command(cli_app)
    problems = []
    for found in re.findall(r"python -m gateway\.cli ([a-z][a-z -]*)", text):
        group: Any = root
        for word in found.split():
            if not hasattr(group, "list_commands"):
                break  # a command, not a group: the rest are its arguments
            sub = group.get_command(group.context_class(group), word)
            if sub is None:
                problems.append(f"gateway.cli {found.strip()}: no command {word!r}")
                break
            group = sub
    return problems


# The real files --------------------------------------------------------------------------------


def test_compose_gateways_set_only_settings_the_gateway_reads() -> None:
    services = services_built_from(GATEWAY_DOCKERFILE)
    assert {"gateway_a", "gateway_b", "migrate"} <= services.keys()
    for name, service in services.items():
        environment = service.get("environment") or {}
        assert not unknown(environment, SETTINGS), name
        # What a production gateway cannot do without.
        for needed in ("DATABASE_URL", "RASA_URL", "REDIS_URL", "PUBLIC_BASE_URL"):
            assert needed in environment, (name, needed)
        assert environment["ENVIRONMENT"] == "production", name


def test_compose_rasa_sets_every_variable_of_the_endpoints_file_and_no_other() -> None:
    services = services_built_from(RASA_DOCKERFILE)
    assert {"rasa", "actions"} <= services.keys()
    for name, service in services.items():
        assert not unknown(service.get("environment") or {}, RASA_VARIABLES), name
    # An unset ${VAR} reaches Rasa as the literal text and fails at the first turn.
    assert set(services["rasa"]["environment"]) >= ENDPOINT_VARIABLES


def test_compose_has_no_service_of_an_unknown_kind() -> None:
    built = services_built_from(GATEWAY_DOCKERFILE) | services_built_from(RASA_DOCKERFILE)
    for name, service in compose()["services"].items():
        if name in built:
            continue
        image = str(service.get("image", ""))
        assert image.split(":")[0] in {"postgres", "redis", "nginx"}, name
        allowed = POSTGRES_IMAGE_VARIABLES if image.startswith("postgres") else set()
        assert not unknown(service.get("environment") or {}, allowed), name


def test_compose_commands_match_the_procfiles() -> None:
    services = compose()["services"]
    assert not gateway_command_problems(services["gateway_a"]["command"])
    assert not gateway_command_problems(services["gateway_b"]["command"])
    assert not rasa_command_problems(services["rasa"]["command"], "rasa")
    assert not rasa_command_problems(services["actions"]["command"], "actions")
    assert not cli_command_problems(" ".join(services["migrate"]["command"]))
    worker = services["worker"]["command"]
    assert worker[1:] == procfile(ROOT / "Procfile.scaled")["worker_a"][1:]
    assert not cli_command_problems(" ".join(worker))
    assert services["worker"]["environment"]["TURNS_IN_WORKERS"] == "true"


def test_compose_paths_exist() -> None:
    paths = []
    for service in compose()["services"].values():
        build = service.get("build") or {}
        paths += [build.get("context", "."), build.get("dockerfile", "Dockerfile")] if build else []
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                paths.append(source)
    assert paths
    assert not missing_paths(paths)


def test_dockerfiles_copy_what_exists_and_start_what_the_procfiles_start() -> None:
    for dockerfile in (GATEWAY_DOCKERFILE, RASA_DOCKERFILE):
        for stage in dockerfile_stages(dockerfile).values():
            for instruction in stage:
                if instruction.upper().startswith("COPY ") and "--from=" not in instruction:
                    sources = shlex.split(instruction)[1:-1]
                    assert not missing_paths(sources), (dockerfile.name, instruction)
                if instruction.upper().startswith("ENV "):
                    names = re.findall(r"(\w+)=", instruction[4:])
                    odd = {n for n in names if not INTERPRETER_VARIABLE.match(n)}
                    assert not unknown(odd, SETTINGS | RASA_VARIABLES), instruction
    assert not gateway_command_problems(dockerfile_cmd(dockerfile_stages(GATEWAY_DOCKERFILE)[""]))
    rasa_stages = dockerfile_stages(RASA_DOCKERFILE)
    assert not rasa_command_problems(dockerfile_cmd(rasa_stages["server"]), "rasa")
    assert not rasa_command_problems(dockerfile_cmd(rasa_stages["actions"]), "actions")
    # The Rasa server serves the model trained in the image.
    assert option(dockerfile_cmd(rasa_stages["server"]), "--model") == "models/assistant.tar.gz"
    assert any("rasa train" in i and "assistant" in i for i in rasa_stages["train"])


def test_systemd_units_start_what_the_procfiles_start() -> None:
    gateway = SYSTEMD / "caricom-gateway@.service"
    assert not gateway_command_problems(unit_command(gateway))
    assert option(unit_command(gateway), "--port") == "%i"  # one instance per port
    assert not rasa_command_problems(unit_command(SYSTEMD / "caricom-rasa.service"), "rasa")
    actions = SYSTEMD / "caricom-actions.service"
    assert not rasa_command_problems(unit_command(actions), "actions")
    worker = unit_command(SYSTEMD / "caricom-worker@.service")
    assert worker[1:] == procfile(ROOT / "Procfile.scaled")["worker_a"][1:]
    assert not cli_command_problems(" ".join(worker))


def test_systemd_units_refer_to_files_that_exist() -> None:
    units = sorted(SYSTEMD.glob("*.service"))
    assert len(units) == 4
    for path in units:
        assert not missing_paths(paths_in_unit(path)), path.name
        for env_file in unit(path)["Service"].get("EnvironmentFile", []):
            example = SYSTEMD / (Path(env_file.lstrip("-")).name + ".example")
            assert example.exists(), f"{path.name}: no example for {env_file}"


def test_systemd_environment_sets_only_what_the_gateway_or_rasa_reads() -> None:
    [example] = SYSTEMD.glob("*.env.example")
    names = env_file_names(example)
    assert not unknown(names, SETTINGS | RASA_VARIABLES)
    assert names >= ENDPOINT_VARIABLES  # caricom-rasa.service reads the same file
    for path in SYSTEMD.glob("*.service"):
        assert not unknown(unit_environment(path), SETTINGS | RASA_VARIABLES), path.name


def test_the_systemd_environment_example_holds_no_secret() -> None:
    [example] = SYSTEMD.glob("*.env.example")
    for line in example.read_text().splitlines():
        name, _, value = line.lstrip("# ").partition("=")
        if re.search(r"TOKEN|PASSWORD|SECRET", name) and value:
            assert value.startswith("<") and value.endswith(">"), line


def test_every_setting_and_rasa_variable_is_documented_in_the_guide() -> None:
    guide = GUIDE.read_text()
    undocumented = {name for name in SETTINGS | RASA_VARIABLES if f"`{name}`" not in guide}
    assert not undocumented


def test_cli_commands_in_the_guide_exist() -> None:
    guide = GUIDE.read_text()
    assert "python -m gateway.cli db upgrade" in guide
    assert not cli_command_problems(guide)


# The checks catch what they are for ------------------------------------------------------------


def test_an_unknown_variable_is_caught() -> None:
    environment = {**compose()["services"]["gateway_a"]["environment"], "DATABSE_URL": "x"}
    assert unknown(environment, SETTINGS) == {"DATABSE_URL"}


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (["uvicorn", "gateway.app:create_app", "--port", "8000"], "--factory"),
        (["uvicorn", "bot.main:app", "--factory"], "does not serve"),
        (["gunicorn", "gateway.app:create_app", "--factory"], "not uvicorn"),
    ],
)
def test_a_wrong_gateway_command_is_caught(command: list[str], problem: str) -> None:
    assert any(problem in p for p in gateway_command_problems(command))


def test_a_wrong_rasa_command_is_caught() -> None:
    command = ["rasa", "run", "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"]
    assert any("--endpoints" in p for p in rasa_command_problems(command, "rasa"))
    missing = ["rasa", "run", "actions", "--actions", "actions_gone"]
    assert any("does not exist" in p for p in rasa_command_problems(missing, "actions"))


def test_a_missing_path_and_a_missing_cli_command_are_caught() -> None:
    assert missing_paths(["deploy/endpoints.gone.yml", "/opt/caricom/nowhere/x.yml"]) == [
        "deploy/endpoints.gone.yml",
        "/opt/caricom/nowhere/x.yml",
    ]
    assert cli_command_problems("run python -m gateway.cli db migrate first")


# Security: who may set X-Forwarded-For, and where Rasa listens ---------------------------------


def test_forwarded_headers_are_believed_only_from_the_proxy() -> None:
    services = compose()["services"]
    nginx_address = services["nginx"]["networks"]["default"]["ipv4_address"]
    for name in ("gateway_a", "gateway_b"):
        command = services[name]["command"]
        # "*" let any client choose the address the login throttle counts and the logs show.
        assert option(command, "--forwarded-allow-ips") in (None, nginx_address), name
        assert services[name]["environment"]["FORWARDED_ALLOW_IPS"] == nginx_address, name
    assert "FORWARDED_ALLOW_IPS" in env_file_names(SYSTEMD / "caricom.env.example")
    assert "--forwarded-allow-ips" not in unit_command(SYSTEMD / "caricom-gateway@.service")
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", nginx)
    assert "$proxy_add_x_forwarded_for" not in nginx


def test_rasa_and_the_action_server_listen_on_loopback_by_default() -> None:
    for path in (ROOT / "Procfile", ROOT / "Procfile.scaled"):
        commands = procfile(path)
        assert option(commands["rasa"], "--interface") == "127.0.0.1", path.name
        assert "SANIC_HOST=${SANIC_HOST:-127.0.0.1}" in commands["actions"], path.name
    assert option(unit_command(SYSTEMD / "caricom-rasa.service"), "--interface") == "127.0.0.1"
    actions_unit = unit(SYSTEMD / "caricom-actions.service")["Service"]["Environment"]
    assert any("SANIC_HOST=127.0.0.1" in value for value in actions_unit)
    # In Docker they listen on the private compose network, which publishes no port of theirs.
    services = compose()["services"]
    for name in ("rasa", "actions"):
        assert not services[name].get("ports"), name


def test_the_rasa_channel_token_reaches_the_gateways_and_rasa() -> None:
    services = compose()["services"]
    for name in ("gateway_a", "gateway_b", "rasa"):
        assert "RASA_CHANNEL_TOKEN" in services[name]["environment"], name
    assert "RASA_CHANNEL_TOKEN" in env_file_names(SYSTEMD / "caricom.env.example")


def test_the_platform_settings_reach_the_action_server() -> None:
    assert set(compose()["services"]["actions"]["environment"]) >= PLATFORM_VARIABLES
    actions = unit(SYSTEMD / "caricom-actions.service")["Service"]
    assert actions.get("EnvironmentFile") == ["/etc/caricom/caricom.env"]
    assert env_file_names(SYSTEMD / "caricom.env.example") >= PLATFORM_VARIABLES
