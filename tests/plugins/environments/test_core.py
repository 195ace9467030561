"""The pure core of plugin environments, as tables (no Django, no I/O)."""

from __future__ import annotations

import pytest

from plugins.environments.core import (
    BuildError,
    Pin,
    PinsError,
    UvSources,
    Wheel,
    compile_argv,
    environment_digest,
    failure_step,
    install_text,
    location_local,
    lock_argv,
    message_shorten,
    metadata_requirements,
    network_needed,
    no_build_blocker,
    pin_build_argv,
    pins_parse,
    pins_with_file,
    requirement_urls,
    requirements_text,
    requires_argv,
    sdist_key,
    sync_argv,
    venv_argv,
    wheel_argv,
)

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64
COMPILED = f"""\
requests==2.32.3 \\
    --hash={H2} \\
    --hash={H1}
idna==3.10 ; python_version >= "3.8" \\
    --hash={H1}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("# only a comment\n\n", ()),
        (
            COMPILED,
            (
                Pin("idna", "3.10", "", 'python_version >= "3.8"', (H1,)),
                Pin("requests", "2.32.3", "", "", (H1, H2)),
            ),
        ),
        (f"Foo_Bar==1.0 --hash={H1}  # via x\n", (Pin("foo-bar", "1.0", "", "", (H1,)),)),
        (
            f"lib @ file:///w/lib-1.0-py3-none-any.whl --hash={H1}\n",
            (Pin("lib", "", "file:///w/lib-1.0-py3-none-any.whl", "", (H1,)),),
        ),
    ],
)
def test_it_reads_the_pins_uv_writes(text: str, expected: tuple[Pin, ...]) -> None:
    assert pins_parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"--index-url https://evil.example/simple\nx==1 --hash={H1}\n", "options"),
        (f"-r /etc/passwd\nx==1 --hash={H1}\n", "options"),
        ("x==1\n", "no hash"),
        (f"x>=1 --hash={H1}\n", "not pinned"),
        (f"x==1.* --hash={H1}\n", "not pinned"),
        (f"x --hash={H1}\n", "not pinned"),
        (f"x==1 --hash={H1}\nX==2 --hash={H2}\n", "twice"),
        (f"x=1 --hash={H1}\n", "not a requirement"),
    ],
)
def test_it_refuses_pins_that_are_not_pinned_requirements_with_hashes(text: str, reason: str) -> None:
    with pytest.raises(PinsError, match=reason):
        pins_parse(text)


def test_it_reads_pins_without_hashes_when_asked() -> None:
    assert pins_parse("x==1\n", require_hashes=False) == (Pin("x", "1", "", "", ()),)


def _digest(pins: str = COMPILED, python: str = "cpython-3.11.7", project: str = "") -> str:
    return environment_digest(pins=pins, python=python, project=project)


def test_the_digest_names_what_the_environment_is_made_of() -> None:
    base = _digest()
    assert len(base) == 64
    assert _digest() == base
    reordered = "\n".join(reversed(COMPILED.replace(" \\\n    ", " ").splitlines())) + "\n# a comment\n"
    assert _digest(pins=reordered) == base  # read, not hashed as text
    assert _digest(pins=COMPILED.replace("3.10", "3.9")) != base
    assert _digest(pins=COMPILED.replace(f" \\\n    --hash={H1}", "", 1)) != base  # a hash less
    assert _digest(python="cpython-3.12.1") != base
    assert _digest(project="ab" * 32) != base
    assert _digest(pins="") != _digest(pins="", project="ab" * 32)


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ([], ""),
        (["requests==2.32.3", " openai>=1 "], "requests==2.32.3\nopenai>=1\n"),
        (["lib @ file:///w/lib.whl"], "lib @ file:///w/lib.whl\n"),
        (['idna; python_version >= "3.8"'], 'idna; python_version >= "3.8"\n'),
    ],
)
def test_it_writes_the_requirements_file(requirements: list[str], expected: str) -> None:
    assert requirements_text(requirements) == expected


@pytest.mark.parametrize(
    "requirement",
    ["--index-url https://evil.example/simple", "-r /etc/passwd", "-e .", "x==1\n--find-links /", "", "x=1", "not ok!"],
)
def test_it_refuses_a_requirement_that_uv_would_read_as_something_else(requirement: str) -> None:
    with pytest.raises(BuildError) as caught:
        requirements_text(["ok==1", requirement])
    assert caught.value.step == "resolve"


UNSATISFIABLE = """\
Using Python 3.11.7 environment at: env
Resolved 3 packages in 12ms
error: No solution found when resolving dependencies
  cause: Because there is no version of sbtestlib==9.0 and you require sbtestlib==9.0, we can conclude that \
your requirements are unsatisfiable.
"""
TRACEBACK = "\n".join(
    [
        "   Building myplugin @ file:///w/src",
        "error: Failed to build `myplugin @ file:///w/src`",
        "  cause: The build backend returned an error",
        "  cause: Call to `setuptools.build_meta:__legacy__.build_wheel` failed (exit status: 1)",
        "",
        "         [stderr]",
        "         Traceback (most recent call last):",
        *[f'           File "setup.py", line {n}, in <module>' for n in range(30)],
        "         RuntimeError: the plugin refuses to build",
    ]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("Resolved 1 package in 3ms\n", ""),
        (
            UNSATISFIABLE,
            "error: No solution found when resolving dependencies\n"
            "cause: Because there is no version of sbtestlib==9.0 and you require sbtestlib==9.0, "
            "we can conclude that your requirements are unsatisfiable.",
        ),
        ("something odd\nhappened\n", "something odd\nhappened"),
        (
            "Building wheel...\nboom: no compiler\nerror: Failed to build `<project>`\n"
            "  cause: The build backend returned an error\n",
            "error: Failed to build `<project>`\ncause: The build backend returned an error\nboom: no compiler",
        ),
        ("x" * 500, "x" * 300),
    ],
)
def test_it_keeps_the_useful_lines_of_a_message(text: str, expected: str) -> None:
    assert message_shorten(text) == expected


def test_a_long_message_keeps_what_failed_and_how_it_ended() -> None:
    short = message_shorten(TRACEBACK, max_lines=8).splitlines()
    assert len(short) == 8
    assert short[0] == "error: Failed to build `myplugin @ file:///w/src`"
    assert short[2] == "…"
    assert short[-1] == "RuntimeError: the plugin refuses to build"
    assert len(message_shorten(TRACEBACK, max_chars=100)) == 100


@pytest.mark.parametrize(
    ("phase", "message", "step"),
    [
        ("lock", UNSATISFIABLE, "resolve"),
        ("lock", "error: The build backend returned an error", "build"),
        ("lock", "error: Failed to fetch: `https://pypi.org/simple/x/`\n  cause: error sending request", "download"),
        ("lock", "something unexpected", "resolve"),
        ("install", "error: Failed to download `x==1.0`", "download"),
        ("install", "error: Hash mismatch for `x==1.0`", "download"),
        ("install", "cause: Because x was not found in the cache and you require x==1.0, …", "resolve"),
        ("install", "something unexpected", "download"),
        ("project", TRACEBACK, "build"),
        ("project", "something unexpected", "build"),
        ("venv", "error: No interpreter found", "build"),
    ],
)
def test_it_names_the_step_that_failed(phase: str, message: str, step: str) -> None:
    assert failure_step(phase=phase, message=message) == step


OFFLINE = UvSources(uv="/u/uv", cache="/d/uv-cache", find_links=("/w/house",), offline=True)
INDEX = UvSources(uv="/u/uv", cache="/d/uv-cache", index_url="https://pypi.org/simple")
APART = UvSources(uv="/u/uv", cache="/w/lock/cache", find_links=("/w/house",))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            lock_argv(INDEX, python="/py", inputs=["/w/requirements.in", "/w/src/setup.py"], output="/w/pins.txt"),
            "/u/uv pip compile --generate-hashes --no-header --no-annotate --no-build --python /py "
            "--output-file /w/pins.txt --cache-dir /d/uv-cache --no-progress --index-url https://pypi.org/simple "
            "/w/requirements.in /w/src/setup.py",
        ),
        (
            lock_argv(APART, python="/py", inputs=["/w/lock/requirements.in"], output="/w/lock/pins.txt", build=True),
            "/u/uv pip compile --generate-hashes --no-header --no-annotate --python /py "
            "--output-file /w/lock/pins.txt --cache-dir /w/lock/cache --no-progress --no-index "
            "--find-links /w/house /w/lock/requirements.in",
        ),
        (
            venv_argv(OFFLINE, python="/py", target="/w/env"),
            "/u/uv venv --python /py --relocatable --cache-dir /d/uv-cache --no-progress /w/env",
        ),
        (
            sync_argv(OFFLINE, python="/w/env/bin/python", pins_file="/w/pins.txt"),
            "/u/uv pip sync --require-hashes --no-build --python /w/env/bin/python --link-mode copy "
            "--cache-dir /d/uv-cache --no-progress --no-index --find-links /w/house --offline /w/pins.txt",
        ),
        (
            requires_argv(OFFLINE, python="/w/build-tools/bin/python", requirements_file="/w/build-requires.txt"),
            "/u/uv pip install --no-build --python /w/build-tools/bin/python --link-mode copy "
            "--cache-dir /d/uv-cache --no-progress --no-index --find-links /w/house --offline "
            "-r /w/build-requires.txt",
        ),
        (
            wheel_argv(APART, python="/w/build-tools/bin/python", project="/w/project/src", out="/w/project/dist"),
            "/u/uv build --wheel --no-build-isolation --python /w/build-tools/bin/python --out-dir /w/project/dist "
            "--cache-dir /w/lock/cache --no-progress --no-index --find-links /w/house /w/project/src",
        ),
        (
            pin_build_argv(APART, python="/w/sdist-a/scratch/bin/python", pin_file="/w/sdist-a/pin.txt"),
            "/u/uv pip install --require-hashes --python /w/sdist-a/scratch/bin/python --no-deps --link-mode copy "
            "--cache-dir /w/lock/cache --no-progress --no-index --find-links /w/house -r /w/sdist-a/pin.txt",
        ),
        (
            compile_argv(python="/py", site_packages="/w/env/lib/site", final="/d/e/lib/site"),
            "/py -I -S -m compileall -q -j 0 -s /w/env/lib/site -p /d/e/lib/site /w/env/lib/site",
        ),
    ],
)
def test_it_runs_uv_with_these_command_lines(argv: list[str], expected: str) -> None:
    assert " ".join(argv) == expected


def test_only_the_steps_apart_may_build_and_run_package_code() -> None:
    sharing = [
        lock_argv(INDEX, python="/py", inputs=["/w/r.in"], output="/w/p.txt"),
        sync_argv(INDEX, python="/py", pins_file="/w/p.txt"),
        requires_argv(INDEX, python="/py", requirements_file="/w/r.txt"),
    ]

    assert all("--no-build" in argv and "--compile-bytecode" not in argv for argv in sharing)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "error: No solution found when resolving dependencies\n  cause: Because sb-Lib==3.0 has no usable "
            "wheels …\nhint: Wheels are required for `sb-Lib` because building from source is disabled for all "
            "packages (i.e., with `--no-build`)",
            "sb-lib",
        ),
        (
            "error: Failed to build `pp @ file:///w/proj`\n  cause: Building source distributions for `pp` is disabled",
            "pp",
        ),
        ("error: No solution found when resolving dependencies\n  cause: sblib==9.0 not found", None),
        ("", None),
    ],
)
def test_it_names_the_sdist_that_a_step_without_builds_stopped_at(message: str, expected: str | None) -> None:
    assert no_build_blocker(message) == expected


PINNED = pins_parse(COMPILED)
WHEEL = Wheel(path="/w/wheels/idna-3.10-py3-none-any.whl", sha256="cd")


@pytest.mark.parametrize(
    ("built", "project", "expected"),
    [
        ({}, None, f'idna==3.10 ; python_version >= "3.8" --hash={H1}\nrequests==2.32.3 --hash={H1} --hash={H2}\n'),
        (
            {"idna": WHEEL},
            Wheel(path="/w/dist/p-0.1-py3-none-any.whl", sha256="ab"),
            f'/w/wheels/idna-3.10-py3-none-any.whl ; python_version >= "3.8" --hash=sha256:cd\n'
            f"requests==2.32.3 --hash={H1} --hash={H2}\n"
            "/w/dist/p-0.1-py3-none-any.whl --hash=sha256:ab\n",
        ),
    ],
)
def test_the_install_takes_the_wheels_built_here_in_place_of_their_sdists(
    built: dict[str, Wheel], project: Wheel | None, expected: str
) -> None:
    assert install_text(PINNED, built=built, project=project) == expected
    assert pins_parse(install_text(PINNED, built={})) == PINNED


def test_a_wheel_built_from_an_sdist_is_reused_only_for_the_same_pin_sources_and_python() -> None:
    (idna, requests) = PINNED
    key = sdist_key(idna, index_url=None, find_links=("/w/house",), python="cpython-3.11")

    assert key == sdist_key(idna, index_url=None, find_links=("/w/house",), python="cpython-3.11")
    assert key != sdist_key(requests, index_url=None, find_links=("/w/house",), python="cpython-3.11")
    assert key != sdist_key(idna, index_url=None, find_links=("/w/other",), python="cpython-3.11")
    assert key != sdist_key(idna, index_url="https://pypi.org/simple", find_links=("/w/house",), python="cpython-3.11")
    assert key != sdist_key(idna, index_url=None, find_links=("/w/house",), python="cpython-3.12")


@pytest.mark.parametrize(
    ("index_url", "locations", "expected"),
    [
        (None, [], False),
        (None, ["/w/house", "file:///w/lib-1.0-py3-none-any.whl"], False),
        ("https://pypi.org/simple", [], True),
        (None, ["https://example.org/wheels/"], True),
        (None, ["git+https://example.org/lib.git@v1"], True),
    ],
)
def test_uv_gets_the_network_only_for_what_is_not_on_this_machine(
    index_url: str | None, locations: list[str], expected: bool
) -> None:
    assert network_needed(index_url=index_url, locations=locations) is expected


@pytest.mark.parametrize(
    ("location", "expected"),
    [("/w/house", "/w/house"), ("file:///w/x.whl", "/w/x.whl"), ("https://example.org/x.whl", None)],
)
def test_a_local_location_is_its_path(location: str, expected: str | None) -> None:
    assert location_local(location) == expected


def test_the_direct_references_among_requirements_are_their_urls() -> None:
    requirements = ["a==1", "b @ file:///w/b.whl", "c @ git+https://example.org/c.git"]
    assert requirement_urls(requirements) == ["file:///w/b.whl", "git+https://example.org/c.git"]


METADATA = """\
Metadata-Version: 2.1
Name: plug
Version: 0.1
Requires-Dist: sbtestlib==1.0
Requires-Dist: idna>=3; python_version >= "3.8"
Requires-Dist: pytest; extra == "test"

A description with a line that looks like one: Requires-Dist: evil
"""


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (METADATA, ["sbtestlib==1.0", 'idna>=3; python_version >= "3.8"']),
        ("Metadata-Version: 2.1\nName: plug\nVersion: 0.1\n", []),
    ],
)
def test_a_wheels_metadata_says_what_it_requires_but_for_its_extras(metadata: str, expected: list[str]) -> None:
    assert metadata_requirements(metadata) == expected


def test_a_wheel_that_declares_a_broken_requirement_fails_its_build() -> None:
    with pytest.raises(BuildError) as caught:
        metadata_requirements("Name: plug\nRequires-Dist: x=1\n")
    assert caught.value.step == "build"


WHEEL_PINS = f"""\
pkg-demo @ file:///data-a/plugin-fetch/tmp1/fetch/pkg_demo-1.0-py3-none-any.whl \\
    --hash={H1}
requests==2.32.3 \\
    --hash={H2}
"""


def test_a_local_wheel_counts_by_its_name_and_hash_not_its_folder() -> None:
    elsewhere = WHEEL_PINS.replace("/data-a/plugin-fetch/tmp1/fetch", "/srv/b/kept")
    assert _digest(pins=elsewhere) == _digest(pins=WHEEL_PINS)
    assert _digest(pins=WHEEL_PINS.replace(H1, "sha256:" + "3" * 64)) != _digest(pins=WHEEL_PINS)
    assert _digest(pins=WHEEL_PINS.replace("pkg_demo-1.0", "pkg_demo-1.1")) != _digest(pins=WHEEL_PINS)
    remote = WHEEL_PINS.replace("file:///data-a/plugin-fetch/tmp1/fetch", "https://a.example/w")
    assert _digest(pins=remote) != _digest(pins=remote.replace("a.example", "b.example"))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/srv/b/kept/pkg_demo-1.0-py3-none-any.whl", "file:///srv/b/kept/pkg_demo-1.0-py3-none-any.whl"),
        ("/srv/b/kept/other-1.0-py3-none-any.whl", "file:///data-a/plugin-fetch/tmp1/fetch/pkg_demo"),
    ],
)
def test_pins_lead_to_where_this_machine_keeps_the_same_file(path: str, expected: str) -> None:
    moved = pins_with_file(WHEEL_PINS, path=path)
    assert expected in moved
    assert pins_parse(moved)[1] == pins_parse(WHEEL_PINS)[1]  # the rest is as it was
    assert environment_digest(pins=moved, python="x", project="") == environment_digest(
        pins=WHEEL_PINS, python="x", project=""
    )
