"""Where the tests' data lives (``tests/data``, one copy of each file; each folder's README says where
it came from)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
GITOPS_ENGINE_DIFF = DATA / "gitops-engine" / "diff"
"""argoproj/gitops-engine's ``pkg/diff/testdata``: real desired and live objects."""
TERRAFORM_PLANS = DATA / "terraform-plans"
"""hashicorp/terraform v1.5.7's ``show -json`` fixtures and equivalence-test plans (MPL-2.0)."""
