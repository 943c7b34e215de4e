"""The package's shape: what `import tnaas` and the serving path load, and the public API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tnaas

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("streamlit", "pandas", "altair", "hmmlearn", "torch", "sklearn", "scipy", "fastapi", "markovify")


def loaded_after(code: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter after running `code`."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_tnaas_loads_numpy_only():
    loaded = loaded_after("import tnaas")
    assert "numpy" in loaded and not loaded & set(HEAVY), loaded & set(HEAVY)


def test_fit_sample_score_complete_with_the_markov_chain_need_numpy_only():
    loaded = loaded_after(
        "from tnaas import load_bundled, make_model, generate\n"
        "from tnaas import service\n"
        "c = load_bundled('tech')\n"
        "for s in ('none', 'kneser-ney'):\n"
        "    m = make_model('markov', {'state_size': 3, 'smoothing': s}).fit(c)\n"
        "    generate(m, 5, random_state=0); m.log_prob('numpy'); m.complete('***base', top=3, samples=3, random_state=0)\n"
        "    m.next_token_distribution('num')\n"
        "service.complete_answer(c, service.ModelRequest.parse('markov', {}, c), '*u*a', seed=0)\n"
    )
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_app_is_the_only_package_that_imports_streamlit():
    users = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tnaas").rglob("*.py")
        if "import streamlit" in path.read_text(encoding="utf-8")
    ]
    assert users and all(path.startswith("tnaas/app/") for path in users), users


def test_pages_import_only_the_app_package():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(("from tnaas", "import tnaas")):
                assert line.startswith("from tnaas.app"), f"{path.name}: {line}"


def test_the_public_api_is_what_the_readme_uses():
    assert set(tnaas.__all__) >= {"load_corpus", "load_bundled", "read_upload", "make_model", "MODELS", "generate"}
    assert all(hasattr(tnaas, name) for name in tnaas.__all__)
    assert issubclass(tnaas.TnaasError, ValueError)


def test_the_installed_command_works_from_another_directory(tmp_path):
    script = Path(sys.executable).with_name("tnaas")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tnaas"]
    done = subprocess.run(
        [*command, "complete", "*u*a", "--corpus", "pokemon"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("p(*u*a) = 0.00170732  [exact]")
