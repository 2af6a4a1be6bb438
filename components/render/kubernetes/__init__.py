"""Kubernetes objects as camelCase dicts, one file each: the namespace and its bounds, the model cache and its
pre-download Job, the workloads, Services, PodDisruptionBudgets, autoscaling, NetworkPolicies and the Ingress.

The package itself imports nothing: the Compose and monitoring renderers share its helpers (`common`, `pods`,
`network`) without loading the workload renderers (`objects`), which only specs with a cluster target need."""
