"""Which store a run uses: said in the configuration (Instance.spec.store), overridden per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from plumbline.config import STORE_BACKEND_ENV, InvalidConfigError, StoreBackend, StoreSpec, load_config
from plumbline.errors import StoreError
from plumbline.store import StoreChoice
from tests.support.config import app_yaml, instance_yaml

KUBE = StoreSpec.model_validate({"backend": "kubernetes", "namespace": "team-a", "historyLimit": 3})


def test_the_default_is_sqlite() -> None:
    assert StoreChoice.of(None, env={}).backend is StoreBackend.SQLITE


def test_override_beats_env_beats_config() -> None:
    assert StoreChoice.of(KUBE, env={}).backend is StoreBackend.KUBERNETES
    assert StoreChoice.of(KUBE, env={STORE_BACKEND_ENV: "sqlite"}).backend is StoreBackend.SQLITE
    choice = StoreChoice.of(None, override="kubernetes", env={STORE_BACKEND_ENV: "sqlite"})
    assert choice.backend is StoreBackend.KUBERNETES
    # the rest of the configured settings stay when only the backend is overridden
    assert StoreChoice.of(KUBE, override="kubernetes", env={}).spec.history_limit == 3


def test_an_unknown_backend_names_where_it_was_given() -> None:
    with pytest.raises(
        StoreError, match=r"--store: unknown store backend 'etcd' \(known: sqlite, kubernetes\)"
    ):
        StoreChoice.of(None, override="etcd", env={})
    with pytest.raises(StoreError, match=rf"\${STORE_BACKEND_ENV}: unknown store backend 'mysql'"):
        StoreChoice.of(None, env={STORE_BACKEND_ENV: "mysql"})


def config_file(tmp_path: Path, store: str) -> Path:
    path = tmp_path / "plumbline.yaml"
    path.write_text(instance_yaml("team-a", store=store) + "---\n" + app_yaml("shop", namespace="shop"))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InvalidConfigError) as caught:
        load_config(path, env={})
    return [str(p) for p in caught.value.problems]


def test_the_instance_says_which_store(tmp_path: Path) -> None:
    path = config_file(tmp_path, "{backend: kubernetes, namespace: team-a, historyLimit: 4}")
    config = load_config(path, env={})
    assert config.store.backend is StoreBackend.KUBERNETES
    assert (config.store.namespace, config.store.history_limit) == ("team-a", 4)
    assert config.store.key_secret == "plumbline-keys/plumbline-store-keys"
    bare = tmp_path / "bare.yaml"
    bare.write_text(app_yaml("shop", namespace="shop"))
    assert load_config(bare, env={}).store == StoreSpec()


def test_a_key_beside_the_records_is_refused(tmp_path: Path) -> None:
    path = config_file(tmp_path, "{backend: kubernetes, namespace: team-a, keySecret: team-a/keys}")
    (problem,) = problems_of(path)
    assert "Instance/team-a" in problem and "spec.store" in problem
    assert "in the records' namespace 'team-a'" in problem


def test_a_bad_store_field_names_it(tmp_path: Path) -> None:
    path = config_file(tmp_path, "{backend: etcd, historyLimit: 0}")
    problems = problems_of(path)
    assert any("spec.store.backend" in p for p in problems)
    assert any("spec.store.historyLimit" in p for p in problems)
