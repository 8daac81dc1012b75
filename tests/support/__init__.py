"""What the tests share: one copy of each helper more than one test file needs.

``tests`` is a package (``tests.unit``, ``tests.integration``, ``tests.support``) and pytest puts the
checkout's root on the path (``pythonpath`` in pyproject.toml), so ``from tests.support import ...``
works from a clean clone. A test file imports from here, never from another test file.

- ``cli``: ``plumb`` as users run it (the installed console script), its environment, a background
  start, a kill in the middle of a write, a free port.
- ``git``: repositories made, committed to and served (smart HTTP) as one fixed author.
- ``config``: an App document of plumbline's configuration.
- ``manifests``: workloads, ConfigMaps, CRDs and any object, as dicts or as the YAML kept in Git.
- ``cluster``: objects made in the real control plane beside plumbline (an admission policy too).
- ``store``: a sync record with every field set.
- ``data``: where ``tests/data`` keeps its one copy of each file.
- ``workloads``: a Deployment and the HorizontalPodAutoscaler that scales it.
- ``guards``: configuration objects, manifests and offline plans for the guard tests.
- ``kwok``: Deployments whose Pods run on the simulated nodes (or fail on purpose), read back with health.
- ``json_keys``: the key style every ``-o json`` keeps (camelCase).
"""
