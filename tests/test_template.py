"""deploy/template.yaml: cfn-lint passes, and it says what the zip and the service expect."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tnaas.artifacts import store
from tnaas.deploy.lambda_zip import ZIP_NAME

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "template.yaml"


def _cfn_lint() -> str:
    # The environment's own cfn-lint first (pinned by the dev extras): another one on PATH
    # may carry other runtime data (cfn-lint 1.51 calls python3.11 deprecated; 1.58 does not).
    venv = Path(sys.executable).parent / "cfn-lint"
    found = str(venv) if venv.exists() else shutil.which("cfn-lint")
    if not found:
        pytest.fail("cfn-lint is not installed (pip install cfn-lint; it is in the dev extras)")
    return found


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub) read as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def _template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_Loader)


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_cfn_lint(), str(path)], capture_output=True, text=True, timeout=300)


def test_cfn_lint_passes():
    done = _lint(TEMPLATE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path):
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("MemorySize: 1024", "MemorySize: 1"))  # below 128
    assert _lint(broken).returncode != 0


def test_function_settings():
    template = _template()
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    function = template["Resources"]["TnaasFunction"]["Properties"]
    assert function["Runtime"] == "python3.11" and function["Architectures"] == ["x86_64"]
    assert function["MemorySize"] == 1024 and 10 <= function["Timeout"] <= 30
    assert function["Handler"] == "tnaas.api.handler"
    assert Path(function["CodeUri"]).name == ZIP_NAME
    assert (TEMPLATE.parent / function["CodeUri"]).resolve() == (ROOT / "lambda-build" / ZIP_NAME)
    # the variable names the directory the zip fills (tnaas/_artifacts under /var/task)
    inside = store.DEFAULT_DIR.relative_to(store.DEFAULT_DIR.parent.parent).as_posix()
    assert function["Environment"]["Variables"]["TNAAS_ARTIFACTS"] == f"/var/task/{inside}"
    assert "ReservedConcurrentExecutions" in function
    routes = {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in function["Events"].values()}
    assert {("/api/{proxy+}", "GET"), ("/api/{proxy+}", "POST"), ("/health", "GET")} <= routes
    assert all(e["Type"] == "HttpApi" for e in function["Events"].values())
    throttling = template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert {"ThrottlingBurstLimit", "ThrottlingRateLimit"} <= set(throttling)
    logs = template["Resources"]["TnaasLogGroup"]
    assert logs["Type"] == "AWS::Logs::LogGroup" and "RetentionInDays" in logs["Properties"]


@pytest.mark.skipif(
    importlib.util.find_spec("tnaas.api") is None,
    reason="tnaas.api (branch api) is not in this tree yet: the handler cannot be imported",
)
def test_handler_path_imports():
    module, name = _template()["Resources"]["TnaasFunction"]["Properties"]["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))
