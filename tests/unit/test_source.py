"""The Git source stage against real repositories made with the `git` CLI (and dulwich, for the
crafted ones no honest `git` would make), fetched over file://, local paths and smart HTTP."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from plumbline import source
from plumbline.errors import SourceError
from plumbline.source import Checkout, Limits, fetch, resolve, safe_join
from tests.support.git import commit_all, git, serve_http, write_files

WHEN = "2026-11-20T10:00:00+01:00"


pytestmark = pytest.mark.usefixtures("isolated_cache")  # a cache of each test's own


def commit(work: Path, files: dict[str, str | bytes], message: str) -> str:
    return commit_all(write_files(work, files), message, when=WHEN)


def link(work: Path, name: str, target: str, message: str) -> str:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return commit_all(work, message, when=WHEN)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A non-bare repository: main (2 commits, tags v1 annotated and v1-light), and a branch dev."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    commit(work, {"apps/web/deploy.yaml": "kind: Deployment\n", "README.md": "hello\n"}, "first")
    git(work, "tag", "-a", "v1", "-m", "release 1")
    git(work, "tag", "v1-light")
    git(work, "checkout", "-q", "-b", "dev")
    commit(work, {"apps/web/dev.yaml": "kind: ConfigMap\n"}, "dev only")
    git(work, "checkout", "-q", "main")
    commit(work, {"apps/web/deploy.yaml": "kind: Deployment\nreplicas: 2\n"}, "scale web\n\nTwo is better.")
    return work


@pytest.fixture
def bare(work: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def test_fetch_branch_from_a_bare_repository_over_file_url(
    work: Path, bare: Path, isolated_cache: Path
) -> None:
    checkout = fetch(f"file://{bare}", "main")
    assert checkout.sha == git(work, "rev-parse", "main")
    assert (checkout.root / "apps/web/deploy.yaml").read_text() == "kind: Deployment\nreplicas: 2\n"
    assert not (checkout.root / "apps/web/dev.yaml").exists()
    assert not (checkout.root / ".git").exists()
    assert checkout.message == "scale web\n\nTwo is better.\n"
    assert checkout.author == "Ada Lovelace <ada@example.com>"
    assert checkout.committed_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert checkout.committed_at.utcoffset() == timedelta(hours=1)
    assert checkout.root.parent.parent == isolated_cache / "checkouts"
    assert checkout.root.name == checkout.sha
    assert (checkout.repo, checkout.revision) == (f"file://{bare}", "main")


def test_fetch_from_a_local_non_bare_path_reads_commits_not_the_working_tree(work: Path) -> None:
    (work / "apps/web/uncommitted.yaml").write_text("kind: Secret\n")
    checkout = fetch(str(work), "dev")
    assert checkout.sha == git(work, "rev-parse", "dev")
    assert (checkout.root / "apps/web/dev.yaml").is_file()
    assert not (checkout.root / "apps/web/uncommitted.yaml").exists()


def test_tags_and_shas_resolve_to_exact_commits(work: Path, bare: Path) -> None:
    first = git(work, "rev-parse", "v1^{commit}")
    dev = git(work, "rev-parse", "dev")
    url = f"file://{bare}"
    assert resolve(url, "v1") == first  # annotated tag, peeled to its commit
    assert resolve(url, "v1-light") == first
    assert resolve(url, "refs/tags/v1") == first
    assert resolve(url, "HEAD") == git(work, "rev-parse", "main")
    assert resolve(url, dev) == dev
    assert resolve(url, dev[:7]) == dev
    assert resolve(url, dev.upper()) == dev
    assert resolve(url, first) == first  # not the tip of anything, still in history
    assert fetch(url, first[:10]).sha == first


def test_unknown_revision_lists_branches_and_tags_that_exist(bare: Path) -> None:
    with pytest.raises(SourceError) as caught:
        resolve(f"file://{bare}", "mian")
    message = str(caught.value)
    assert "'mian'" in message and f"file://{bare}" in message
    assert "branches: dev, main" in message and "tags: v1, v1-light" in message
    with pytest.raises(SourceError, match="'0000000' is not a branch, tag or commit"):
        resolve(f"file://{bare}", "0000000")


def test_a_name_that_is_both_branch_and_tag_on_different_commits_is_refused(work: Path) -> None:
    git(work, "tag", "dev", "main")
    with pytest.raises(SourceError, match="both a branch and a tag") as caught:
        resolve(str(work), "dev")
    assert "refs/heads/dev or refs/tags/dev" in str(caught.value)
    assert resolve(str(work), "refs/heads/dev") == git(work, "rev-parse", "refs/heads/dev")


def test_unreachable_repositories_are_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=f"file://{tmp_path}/nothing-here"):
        resolve(f"file://{tmp_path}/nothing-here", "main")
    with pytest.raises(SourceError, match="no such directory"):
        resolve(str(tmp_path / "nothing-here"), "main")
    with pytest.raises(SourceError) as caught:
        resolve("http://deploy:s3cret@127.0.0.1:9/repo.git", "main")
    assert "http://deploy:***@127.0.0.1:9/repo.git" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(SourceError, match="scheme 'ftp' is not supported"):
        resolve("ftp://example.com/repo.git", "main")


def test_checkouts_are_reused_and_fetches_are_incremental(
    work: Path, bare: Path, isolated_cache: Path
) -> None:
    url = f"file://{bare}"
    first = fetch(url, "main")
    again = fetch(url, first.sha)
    assert again.root == first.root
    assert os.stat(first.root / "README.md").st_mode & 0o222 == 0  # shared: read-only

    new = commit(work, {"apps/web/new.yaml": "kind: Service\n"}, "add a service")
    git(work, "push", "-q", str(bare), "main")
    second = fetch(url, "main")
    assert second.sha == new and second.root != first.root
    assert first.root.is_dir()  # the old checkout stays for whoever still uses it

    mirrors = [p for p in (isolated_cache / "repos").iterdir() if p.is_dir()]
    assert len(mirrors) == 1
    with Repo(str(mirrors[0])) as mirror:
        packs = sorted(mirror.object_store.packs, key=lambda p: os.stat(p._data_path).st_mtime_ns)
        # The second fetch brought only the new commit, its trees and the new blob.
        assert len(packs) == 2
        assert len(packs[-1]) == 5


def test_a_pinned_sha_already_fetched_needs_no_network(work: Path, bare: Path) -> None:
    url = f"file://{bare}"
    sha = fetch(url, "main").sha
    bare.rename(bare.with_name("moved.git"))
    assert fetch(url, sha).sha == sha
    with pytest.raises(SourceError, match="cannot fetch from"):
        fetch(url, "main")


def test_fetch_over_smart_http(work: Path, bare: Path) -> None:
    with serve_http(bare) as url:
        checkout = fetch(url, "dev")
        assert checkout.sha == git(work, "rev-parse", "dev")
        assert resolve(url, "v1") == git(work, "rev-parse", "v1^{commit}")
        assert (checkout.root / "apps/web/dev.yaml").read_text() == "kind: ConfigMap\n"


# --- paths and symlinks that lead outside (CVE-2022-24348 class) ---


def test_safe_join_refuses_paths_that_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "apps/web").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    os.symlink("../secret", root / "sneaky")
    os.symlink("apps", root / "alias")
    assert safe_join(root, "apps/web") == (root / "apps/web").resolve()
    assert safe_join(root, "apps/../apps/web") == (root / "apps/web").resolve()
    assert safe_join(root, "alias/web") == (root / "apps/web").resolve()
    assert safe_join(root, "") == root.resolve()
    assert safe_join(root, "apps/not-yet") == (root / "apps/not-yet").resolve()
    for bad in ("../secret", "apps/../../secret", "sneaky", "sneaky/x.yaml", "/etc/passwd"):
        with pytest.raises(SourceError) as caught:
            safe_join(root, bad)
        assert repr(bad) in str(caught.value)


def test_a_symlink_escaping_the_repository_is_refused(work: Path) -> None:
    link(work, "apps/web/passwd.yaml", "../../../../../../etc/passwd", "sneak")
    with pytest.raises(SourceError) as caught:
        fetch(str(work), "main")
    assert "apps/web/passwd.yaml is a symlink to '../../../../../../etc/passwd'" in str(caught.value)
    assert "outside the repository" in str(caught.value)


def test_an_absolute_symlink_is_refused(work: Path) -> None:
    link(work, "apps/web/abs.yaml", "/etc/hostname", "absolute")
    with pytest.raises(SourceError) as caught:
        fetch(str(work), "main")
    assert "apps/web/abs.yaml is a symlink to the absolute path '/etc/hostname'" in str(caught.value)


def test_a_symlink_escaping_through_another_symlink_is_refused(work: Path) -> None:
    # Read lexically, "here/../x" stays inside; on disk "here" is the root, so it leads to ../x.
    link(work, "here", ".", "a link to the root")
    link(work, "apps/web/escape.yaml", "../../here/../outside.yaml", "sneak through it")
    with pytest.raises(SourceError, match=r"apps/web/escape\.yaml is a symlink"):
        fetch(str(work), "main")


def test_symlinks_that_stay_inside_are_kept(work: Path) -> None:
    link(work, "apps/shared", "web", "a folder link")
    link(work, "apps/web/readme.md", "../../README.md", "a file link")
    link(work, "apps/web/dangling.yaml", "missing.yaml", "a dangling link inside")
    checkout = fetch(str(work), "main")
    assert (checkout.root / "apps/shared/deploy.yaml").read_text().startswith("kind: Deployment")
    assert (checkout.root / "apps/web/readme.md").read_text() == "hello\n"
    assert os.readlink(checkout.root / "apps/web/dangling.yaml") == "missing.yaml"


@pytest.mark.parametrize("name", [b"..", b"../planted.yaml", b".git", b".GIT"])
def test_crafted_tree_entries_that_could_escape_are_refused(tmp_path: Path, name: bytes) -> None:
    bare = tmp_path / "crafted.git"
    with Repo.init_bare(str(bare), mkdir=True) as repo:
        blob = Blob.from_string(b"kind: Secret\n")
        inner = Tree()
        inner.add(b"planted.yaml", 0o100644, blob.id)
        outer = Tree()
        if name.endswith(b".yaml"):
            outer.add(name, 0o100644, blob.id)
        else:
            outer.add(name, 0o040000, inner.id)
        crafted = Commit()
        crafted.tree = outer.id
        crafted.author = crafted.committer = b"Mallory <m@example.com>"
        crafted.author_time = crafted.commit_time = 0
        crafted.author_timezone = crafted.commit_timezone = 0
        crafted.message = b"escape\n"
        for obj in (blob, inner, outer, crafted):
            repo.object_store.add_object(obj)
        repo.refs[Ref(b"refs/heads/main")] = crafted.id
    with pytest.raises(SourceError) as caught:
        fetch(f"file://{bare}", "main")
    assert f"the tree entry {name.decode()!r} has a name git itself refuses" in str(caught.value)
    assert list(tmp_path.rglob("planted.yaml")) == []


# --- bounded sizes ---


def test_a_file_over_the_size_limit_is_refused_by_name(work: Path) -> None:
    # Zeros pack into almost nothing; the limit is on what the checkout would hold.
    commit(work, {"charts/big.tgz": bytes(source.MAX_FILE_BYTES + 1)}, "a big file")
    with pytest.raises(SourceError) as caught:
        fetch(str(work), "main")
    assert f"charts/big.tgz is {source.MAX_FILE_BYTES + 1} bytes" in str(caught.value)
    assert "MAX_FILE_BYTES" in str(caught.value)


def test_total_size_file_count_and_fetch_size_are_bounded(work: Path) -> None:
    commit(work, {f"many/{n}.yaml": f"n: {n}\n" + "x" * 600 for n in range(10)}, "ten files")
    with pytest.raises(SourceError, match="sent more than 100 bytes in one fetch"):
        fetch(str(work), "main", limits=Limits(max_repo_bytes=100))
    with pytest.raises(SourceError, match=r"more than 5 files \(reached at "):
        fetch(str(work), "main", limits=Limits(max_files=5))
    with pytest.raises(SourceError, match="grows past 2000 bytes at many/"):
        fetch(str(work), "main", limits=Limits(max_checkout_bytes=2000))
    checkout: Checkout = fetch(str(work), "main")
    assert len(list((checkout.root / "many").iterdir())) == 10


def test_kept_refs_are_forgotten_when_a_sync_of_another_commit_overtakes_them(work: Path) -> None:
    """The controller keeps what `main` resolved to between polls; when someone else's sync of another
    commit of `main` finished after that (an operation carried out, `plumb sync`), the kept commit
    may be the older one, so it is forgotten and Git is asked again — never put back over theirs."""
    refs = source.Refs()
    first = fetch(str(work), "main", refs=refs).sha
    newer = commit(work, {"app/cm.yaml": "kind: ConfigMap\n"}, "newer")
    assert fetch(str(work), "main", refs=refs).sha == first  # kept: the remote is not asked
    earlier = datetime.now(UTC) - timedelta(hours=1)
    assert not refs.overtaken(str(work), "main", sha=newer, at=earlier)  # theirs is older than ours
    assert not refs.overtaken(str(work), "main", sha=first, at=datetime.now(UTC))  # the same commit
    assert fetch(str(work), "main", refs=refs).sha == first
    assert refs.overtaken(str(work), "main", sha=newer, at=datetime.now(UTC) + timedelta(seconds=1))
    assert fetch(str(work), "main", refs=refs).sha == newer
    assert refs.fetched == 2
