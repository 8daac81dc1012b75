"""The secrets guard from several threads at once, as the controller's worker pool runs it: each
thread's findings are the ones it finds alone. detect-secrets keeps its settings in one global (the
guard swaps them in for each check) and its package cannot be imported by two threads at once (a
circular import between its modules: 'partially initialized module', found by CI with 4 workers)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import threading
    from plumbline.guards.secrets import detect

    VALUES = [
        ("token", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
        ("password", "hunter2-correct-horse-battery-staple"),
        ("aws", "AKIA" + "IOSFODNN7EXAMPLQ"),
        ("greeting", "hello world"),
    ]
    start = threading.Barrier(16)
    answers, errors = [], []

    def run():
        try:
            start.wait()
            for _ in range(20):
                answers.append(tuple(tuple(detect(k, v)) for k, v in VALUES))
        except Exception as error:  # reported below: the test fails on it
            errors.append(repr(error))

    threads = [threading.Thread(target=run) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(repr(errors))
    print(len(set(answers)), repr(answers[0] if answers else None))
    """
)


def test_the_secrets_guard_from_many_threads_finds_what_it_finds_alone() -> None:
    alone = subprocess.run(
        [
            sys.executable,
            "-c",
            "from plumbline.guards.secrets import detect; "
            "print(detect('token', 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert alone != "[]", alone  # the value is one the guard finds
    for _ in range(12):  # a fresh interpreter each time: the first import is the racy part
        done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        errors, answers = done.stdout.splitlines()
        assert errors == "[]", errors
        assert answers.startswith("1 "), answers  # every thread, every time: the same findings
