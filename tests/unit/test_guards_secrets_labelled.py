"""The secrets guard on a labelled set of public samples (gitleaks' and detect-secrets' own test
samples, real GitOps manifests): recall and false-positive rate stay at least as good as measured.

The figures are in docs/guards.md; ``bench/secrets_labelled.py`` prints them with every sample the
guard gets wrong.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("secrets_labelled", ROOT / "bench" / "secrets_labelled.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_recall_and_false_positive_rate_stay_at_least_as_measured() -> None:
    result = _bench().measure()
    assert (result.secrets, result.clean) == (26, 119)  # the set itself did not shrink
    assert result.detected >= 24, result.missed  # recall 92.3%
    assert result.blocked <= 2, result.false_positives  # false-positive rate 1.7%
