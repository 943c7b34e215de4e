"""`tnaas build-lambda`: the AWS Lambda deployment zip (CPython 3.11, Linux x86_64).

The zip holds, at its root: the serving dependencies (fastapi, mangum, numpy and what they
import) unpacked from manylinux2014 x86_64 wheels for CPython 3.11, downloaded by pip and
cached under ~/.cache/tnaas/lambda-wheels (or `TNAAS_WHEEL_CACHE`), so a repeated build
needs no network; the `tnaas` package without `tnaas/app` (streamlit); and the prebuilt
artifacts in `tnaas/_artifacts`, the directory the service reads when TNAAS_ARTIFACTS is
unset (see `tnaas.artifacts.store`). Every module is precompiled (unchecked-hash .pyc): a
Lambda's /var/task is read-only, so Python could not cache its bytecode there and would
compile every import on every cold start.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tnaas.errors import TnaasError

ZIP_NAME = "tnaas-lambda.zip"
PLATFORM, PYTHON_VERSION, IMPLEMENTATION = "manylinux2014_x86_64", "3.11", "cp"
MAX_ZIPPED_BYTES = 50 * 1024 * 1024  # Lambda's limit for a zip uploaded directly
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda's limit for the unpacked function
# Packages that must never reach the function: fit-time or app-only, and heavy.
FORBIDDEN = ("streamlit", "pandas", "altair", "hmmlearn", "sklearn", "scikit_learn", "scipy", "torch")
# pinned to what this environment runs (the API is tested against these), numpy left to pip:
# the newest release with a manylinux2014 wheel (Lambda's python3.11 runs on glibc 2.26).
PINNED = ("fastapi", "mangum")
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # every zip entry's timestamp: same inputs, same zip


@dataclass(frozen=True)
class LambdaBundle:
    """What `build_lambda` made: the zip, its sizes (bytes) and the wheels unpacked into it."""

    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    wheels: tuple[str, ...]
    artifacts: int


def requirements() -> list[str]:
    """The serving requirements handed to pip."""
    reqs = []
    for name in PINNED:
        try:
            reqs.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            reqs.append(name)
    return [*reqs, "numpy>=1.26"]


def wheel_cache() -> Path:
    """Where downloaded wheels are kept between builds."""
    return Path(os.environ.get("TNAAS_WHEEL_CACHE") or Path.home() / ".cache" / "tnaas" / "lambda-wheels")


def download_wheels(cache: Path | None = None, report=None) -> list[Path]:
    """The wheels of `requirements()` for Lambda, from the cache or downloaded by pip.

    One cache folder per (requirements, platform), marked complete only once pip succeeded.
    A failing pip (no network, no such wheel) is a `TnaasError` carrying pip's last lines.
    """
    reqs = requirements()
    key = hashlib.sha256(json.dumps([reqs, PLATFORM, PYTHON_VERSION, IMPLEMENTATION]).encode()).hexdigest()[:16]
    folder = (cache or wheel_cache()) / key
    marker = folder / "COMPLETE"
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--dest", str(folder), "--platform", PLATFORM, "--only-binary=:all:",
            "--python-version", PYTHON_VERSION, "--implementation", IMPLEMENTATION, *reqs,
        ]  # fmt: skip
        if report:
            report(f"downloading wheels: {' '.join(reqs)} for {PLATFORM}, CPython {PYTHON_VERSION}")
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise TnaasError(f"pip could not download the Lambda wheels (is PyPI reachable?): {tail}")
        marker.write_text("\n".join(reqs) + "\n")
    return sorted(folder.glob("*.whl"))


def _unpack_wheel(wheel: Path, target: Path) -> None:
    """Install a wheel by unpacking it (what pip does for a pure layout); a `NAME.data/purelib`
    or `platlib` folder is merged into the root, scripts and headers are dropped."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    for data in target.glob("*.data"):
        for sub in ("purelib", "platlib"):
            if (data / sub).is_dir():
                shutil.copytree(data / sub, target, dirs_exist_ok=True)
        shutil.rmtree(data)


def _copy_tnaas(target: Path) -> None:
    """The installed `tnaas` package, without the app, bytecode caches or local artifacts."""
    import tnaas

    source = Path(tnaas.__file__).resolve().parent
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_artifacts")
    shutil.copytree(source, target / "tnaas", ignore=ignore)
    shutil.rmtree(target / "tnaas" / "app", ignore_errors=True)


def _copy_artifacts(source: Path, target: Path) -> int:
    """Every artifact (header and arrays, checked to load) of `source` into `target`."""
    from tnaas.artifacts import load_artifact

    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for header in sorted(Path(source).glob("*.json")):
        load_artifact(header)  # a broken artifact fails the build, not the deployed function
        for path in (header, header.with_suffix(".npz")):
            shutil.copy2(path, target / path.name)
        count += 1
    if not count:
        raise TnaasError(f"no artifacts in {source}: build them with `tnaas build-artifacts {source}`")
    return count


def _check_forbidden(root: Path) -> None:
    present = sorted(
        {p.name.split("-")[0].lower() for p in root.iterdir()} & {f.lower() for f in FORBIDDEN}
        | {f for f in FORBIDDEN if any(root.glob(f"{f}-*.dist-info"))}
    )
    if present:
        raise TnaasError(f"the Lambda bundle must not contain {', '.join(present)}")


def _precompile(root: Path) -> None:
    """Bytecode next to every module, valid whatever the files' times (unchecked hash)."""
    if sys.version_info[:2] != (3, 11):
        return  # .pyc files are version-specific: Lambda's python3.11 would ignore these
    compileall.compile_dir(
        str(root), quiet=2, workers=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )


def _write_zip(root: Path, path: Path) -> int:
    """Zip `root` (sorted entries, fixed times: a reproducible zip); returns unzipped bytes."""
    total = 0
    temporary = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(file.relative_to(root).as_posix(), _FIXED_TIME)
            info.external_attr = 0o644 << 16  # readable by the Lambda runtime's user
            info.compress_type = zipfile.ZIP_DEFLATED
            data = file.read_bytes()
            total += len(data)
            archive.writestr(info, data)
    os.replace(temporary, path)
    return total


def build_lambda(outdir, artifacts=None, report=None) -> LambdaBundle:
    """Build OUTDIR/tnaas-lambda.zip; `artifacts` is a directory of artifacts (default: the
    Markov line-up for every bundled corpus, built now in a few seconds).

    Raises `TnaasError` when pip fails, a forbidden package slips in, or the zip exceeds
    Lambda's limits (50 MB zipped, 250 MB unzipped).
    """
    from tnaas.artifacts.build import build_artifacts

    outdir = Path(outdir)
    staging = outdir / "lambda-staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    wheels = download_wheels(report=report)
    for wheel in wheels:
        _unpack_wheel(wheel, staging)
    for tests in [p for p in staging.glob("*/**/tests") if p.is_dir()]:
        shutil.rmtree(tests, ignore_errors=True)  # the dependencies' own test suites, never imported
    _copy_tnaas(staging)
    target = staging / "tnaas" / "_artifacts"
    if artifacts is None:
        built = outdir / "artifacts"
        build_artifacts(built, models=["markov"])
        artifacts = built
    count = _copy_artifacts(Path(artifacts), target)
    _check_forbidden(staging)
    _precompile(staging)
    path = outdir / ZIP_NAME
    unzipped = _write_zip(staging, path)
    zipped = path.stat().st_size
    shutil.rmtree(staging)
    if report:
        report(
            f"{path}: {zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped "
            f"(limits {MAX_ZIPPED_BYTES / 2**20:.0f} MiB and {MAX_UNZIPPED_BYTES / 2**20:.0f} MiB), "
            f"{len(wheels)} wheels, {count} artifacts"
        )
    if zipped > MAX_ZIPPED_BYTES or unzipped > MAX_UNZIPPED_BYTES:
        raise TnaasError(
            f"the Lambda zip is too large: {zipped / 2**20:.1f} MiB zipped (limit 50), "
            f"{unzipped / 2**20:.1f} MiB unzipped (limit 250)"
        )
    return LambdaBundle(path, zipped, unzipped, tuple(w.name for w in wheels), count)
