"""What the tests share: one copy of each helper more than one test file needs.

- ``git``: run git as a fixed test author.
- ``workloads``: a Deployment and its HorizontalPodAutoscaler, for runtime-replica tests.
- ``guards``: configuration objects, manifests and offline plans for the guard tests.
- ``kwok``: Deployments whose Pods run on the simulated nodes (or fail on purpose), read back with health.
"""
