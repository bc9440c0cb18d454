"""The container image (Containerfile), built and run the way compose.yaml runs it: read-only root,
/tmp a tmpfs, a non-root user, state in a mounted volume.

Built offline, as machines without an image registry need (docs/deploying-containers.md, "Offline"):
rootful podman from Debian's packages (scripts/ensure-podman.sh), a Debian base with python3 made
with debootstrap and kept between runs (scripts/ensure-container-base.sh), and the dependencies'
wheels downloaded on the host for the base's Python into dist/wheels, which the Containerfile
installs from alone. SQLite in the mounted volume rather than the machine's Postgres: the test then
needs no `--network host`, so the published port is what is exercised, and what lands in the volume
can be seen from outside.

Time: about 16 s when the base image and the dependency layer are cached (wheels 2.5 s, build 8 s,
migrate and start to /readyz 3 s, the checks 3 s); about 30 s when the dependencies changed; add about
60 s on a machine without podman or the base image (apt 11 s, debootstrap 50 s). Skipped, saying why,
where podman cannot be installed or run (not root, no apt-get, no Linux).
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.harness import SECRET, free_port

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "localhost/latchkey-base:bookworm"
WHEELS = ROOT / "dist" / "wheels"
UID = 10001
METRICS_TOKEN = "metrics-token-of-the-container-test"
# The environment markers are evaluated in (packaging's default_environment), printed by the base's
# own Python: a dependency may apply there and not on the host (redis wants async-timeout below 3.11.3).
MARKER_PROBE = """
import json, os, platform, sys
impl = sys.implementation
print(json.dumps({
    "implementation_name": impl.name,
    "implementation_version": "%d.%d.%d" % impl.version[:3],
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
    "glibc": platform.libc_ver()[1],
}))
"""


def run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def ensure(script: str, what: str) -> None:
    """Run one of the scripts that set podman up; skip, with its own words, when it cannot."""
    done = run("bash", str(ROOT / "scripts" / script), timeout=600, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        pytest.skip(f"{what}: {said[-1] if said else f'scripts/{script} exited {done.returncode}'}")


@pytest.fixture(scope="module")
def base_image() -> str:
    if not sys.platform.startswith("linux"):
        pytest.skip("podman containers run on Linux only")
    if os.geteuid() != 0:
        pytest.skip("needs root: the container test uses rootful podman (scripts/ensure-podman.sh)")
    ensure("ensure-podman.sh", "podman cannot be installed or run here")
    ensure("ensure-container-base.sh", "the local base image could not be made")
    return BASE_IMAGE


# Wheels for the base image's Python ----------------------------------------------------------------


def download_wheels(into: Path, requirements: list[str], target: dict[str, str]) -> None:
    """Binary wheels for the target's Python and platform, the versions the host's tests ran on."""
    arch = target["platform_machine"]
    glibc_minor = int(target["glibc"].split(".")[1])
    platforms = [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, 4, -1)]
    platforms += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    pinned = run(sys.executable, "-m", "pip", "freeze", "--exclude-editable").stdout
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text(pinned)
        run(
            *(sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check"),
            *("--only-binary=:all:", "--implementation", "cp", "--python-version", target["python_full_version"]),
            *(arg for p in platforms for arg in ("--platform", p)),
            *("-d", str(into), "-c", str(constraints), *requirements),
            timeout=300,
        )


def requires_of(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    return [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def missing_on_target(wheels: Path, requirements: list[str], target: dict[str, str]) -> list[str]:
    """What the target's pip would want that the host's resolution left out (markers that differ)."""
    have = {canonicalize_name(parse_wheel_filename(w.name)[0]): w for w in wheels.glob("*.whl")}
    seen: set[tuple[str, str]] = set()
    missing: list[str] = []
    queue = [(Requirement(r), "") for r in requirements]
    while queue:
        requirement, extra = queue.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({**target, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        if name not in have:
            missing.append(f"{requirement.name}{requirement.specifier}")
            continue
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                queue.extend((dependency, wanted) for dependency in requires_of(have[name]))
    return missing


@pytest.fixture(scope="module")
def wheels(base_image: str) -> Path:
    """dist/wheels (git ignores it) holding exactly the wheels for the base; unchanged files are kept,
    so the image's dependency layer stays cached while the dependencies do not change."""
    target = json.loads(
        run("podman", "run", "--rm", "--network", "none", base_image, "python3", "-c", MARKER_PROBE).stdout
    )
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        download_wheels(fresh, requirements, target)
        gaps = missing_on_target(fresh, requirements, target)
        for _ in range(5):
            if not gaps:
                break
            download_wheels(fresh, gaps, target)
            gaps = missing_on_target(fresh, requirements, target)
        assert not gaps, f"no wheels for the base image's Python: {gaps}"
        WHEELS.mkdir(parents=True, exist_ok=True)
        for old in WHEELS.iterdir():
            if not (fresh / old.name).exists():
                old.unlink()
        for new in fresh.iterdir():
            if not (WHEELS / new.name).exists():
                shutil.copy2(new, WHEELS / new.name)
    return WHEELS


# The image and a running container -----------------------------------------------------------------


@dataclass
class Container:
    name: str
    image: str
    url: str
    var_dir: Path

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("podman", "exec", self.name, *args, timeout=60, check=check)

    def logs(self) -> str:
        done = run("podman", "logs", self.name, check=False)
        return done.stdout + done.stderr


@pytest.fixture(scope="module")
def image(base_image: str, wheels: Path) -> Iterator[str]:
    if not (ROOT / "widget" / "packages" / "core" / "dist" / "embed.js").exists():
        pytest.fail("the widget is not built: run `make widget` (the image copies its dist/ in)")
    tag = f"localhost/latchkey-test:{os.getpid()}"
    # docker format keeps the Containerfile's HEALTHCHECK (the OCI format has no field for it).
    run(
        "podman",
        "build",
        "-q",
        "--format",
        "docker",
        "--build-arg",
        f"BASE={base_image}",
        "-t",
        tag,
        str(ROOT),
        timeout=600,
    )
    try:
        yield tag
    finally:
        for _ in range(3):  # once seen to leave the tag behind right after `podman rm`: try again
            run("podman", "rmi", "-f", tag, check=False)
            if not image_exists(tag):
                break
            time.sleep(1)


def image_exists(tag: str) -> bool:
    return run("podman", "image", "exists", tag, check=False).returncode == 0


def compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"][name]
    return service


def compose_flags(service: dict[str, Any]) -> list[str]:
    """`podman run` flags for how compose.yaml confines a service (read-only root, tmpfs, user,
    capabilities, privileges, its environment), so this test runs the image as compose would."""
    flags = ["--read-only"] if service.get("read_only") else []
    flags += [arg for path in service.get("tmpfs", []) for arg in ("--tmpfs", path)]
    flags += ["--user", service["user"]] if "user" in service else []
    flags += [arg for cap in service.get("cap_drop", []) for arg in ("--cap-drop", cap)]
    flags += [arg for opt in service.get("security_opt", []) for arg in ("--security-opt", opt)]
    flags += [arg for key, value in service.get("environment", {}).items() for arg in ("-e", f"{key}={value}")]
    return flags


@pytest.fixture(scope="module")
def container(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """compose.yaml's migrate, then its latchkey service, on SQLite in a mounted volume instead of
    Postgres, with two workers and metrics on: the case that makes a folder under /tmp."""
    var_dir = tmp_path_factory.mktemp("container-var")
    os.chown(var_dir, UID, UID)  # the volume belongs to the image's user, as a named volume would
    port = free_port()
    name = f"latchkey-test-{os.getpid()}"
    url = f"http://127.0.0.1:{port}"
    ours = (
        "-v",
        f"{var_dir}:/var/lib/latchkey",
        "-e",
        f"LATCHKEY_SECRET_KEY={SECRET}",
        "-e",
        f"LATCHKEY_BASE_URL={url}",
    )
    migrate, latchkey = compose_service("migrate"), compose_service("latchkey")
    run("podman", "run", "--rm", *compose_flags(migrate), *ours, image, *migrate["command"])
    run(
        *("podman", "run", "-d", "--name", name, *compose_flags(latchkey), *ours),
        *("-p", f"127.0.0.1:{port}:8000", "-e", f"LATCHKEY_METRICS_TOKEN={METRICS_TOKEN}", image),
    )
    served = Container(name, image, url, var_dir)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            running = run("podman", "inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip()
            assert running == "true" and time.monotonic() < deadline, f"never ready:\n{served.logs()}"
            time.sleep(0.25)
        yield served
    finally:
        run("podman", "rm", "-f", "-t", "0", name, check=False)


# The tests ----------------------------------------------------------------------------------------


def test_the_container_answers_readyz_and_healthz_over_its_published_port(container: Container) -> None:
    ready = httpx.get(f"{container.url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    alive = httpx.get(f"{container.url}/healthz", timeout=5)
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    home = httpx.get(f"{container.url}/", timeout=5)
    assert home.status_code == 200 and "<html" in home.text.lower()  # templates are in the image
    widget = httpx.get(f"{container.url}/embed.js", timeout=5)
    assert widget.status_code == 200 and len(widget.content) > 1000  # so is the built widget


def test_a_key_made_by_the_cli_inside_the_container_answers_a_rest_call(container: Container) -> None:
    created = container.exec("latchkey", "workspace", "create", "--name", "Container test").stdout
    workspace_id = re.search(r"^workspace (\S+)", created, re.M)
    key = re.search(r"sandbox\s+secret key: (\S+)", created)
    assert workspace_id and key, created
    answer = httpx.get(f"{container.url}/api/v1/environment", headers={"Authorization": f"Bearer {key[1]}"}, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["workspace_id"] == workspace_id[1]
    assert answer.json()["data"]["environment"] == "sandbox"


def test_the_service_runs_as_the_images_non_root_user(container: Container) -> None:
    status = container.exec("cat", "/proc/1/status").stdout
    uids = re.search(r"^Uid:\s+(.+)$", status, re.M)
    assert uids and set(uids[1].split()) == {str(UID)}, status  # real, effective, saved, filesystem
    top = run("podman", "top", container.name, "user", "args").stdout.splitlines()[1:]
    assert len(top) >= 3 and all(line.split()[0] != "root" for line in top), top  # parent and 2 workers


def test_the_root_file_system_is_read_only_and_state_lands_in_the_volume(container: Container) -> None:
    denied = container.exec("touch", "/opt/latchkey/app/written", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    assert (container.var_dir / "latchkey.db").stat().st_uid == UID
    assert not (container.var_dir / "secret_key").exists()  # the secret came from the environment
    made = container.exec("ls", "/tmp").stdout.split()
    assert any(n.startswith("latchkey-metrics-") for n in made), made  # why /tmp must be a tmpfs
    metrics = httpx.get(f"{container.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
    assert metrics.status_code == 200 and "# TYPE" in metrics.text


def test_the_health_checks_of_the_image_and_of_compose_pass(container: Container) -> None:
    run("podman", "healthcheck", "run", container.name)  # the Containerfile's HEALTHCHECK
    probe = compose_service("latchkey")["healthcheck"]["test"]
    assert probe[0] == "CMD" and "/readyz" in " ".join(probe), probe
    container.exec(*probe[1:])


def test_compose_confines_latchkey_and_starts_it_after_postgres_and_the_migrations() -> None:
    postgres, migrate, latchkey = (compose_service(n) for n in ("postgres", "migrate", "latchkey"))
    for service in (migrate, latchkey):  # what compose_flags turns into the podman run above
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
        assert service["user"] == f"{UID}:{UID}" and service["cap_drop"] == ["ALL"]
        assert service["env_file"] == "latchkey.env"
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert latchkey["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert latchkey["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert int(latchkey["environment"]["LATCHKEY_WORKERS"]) > 1
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "env_file" not in postgres  # the database never sees the secret key


def test_the_example_env_file_holds_no_usable_secret() -> None:
    lines = (ROOT / "latchkey.env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line[:1].isalpha())
    assert len(example["LATCHKEY_SECRET_KEY"]) < 32  # too short to start with: it must be replaced
    assert example["LATCHKEY_DATABASE_URL"].startswith("postgresql://latchkey:")
    assert "@postgres:5432/latchkey" in example["LATCHKEY_DATABASE_URL"]  # compose's service and database


def test_stopping_the_container_ends_the_service_cleanly(container: Container) -> None:
    run("podman", "stop", "-t", "35", container.name, timeout=60)
    exit_code = run("podman", "inspect", "-f", "{{.State.ExitCode}}", container.name).stdout.strip()
    assert exit_code == "0", container.logs()
