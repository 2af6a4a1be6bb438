"""A kubelet-like harness: run the pods of a rendered kubernetes/ folder with Docker, as a node would."""

from .cluster import Cluster, load_objects
from .containers import Unsupported
from .pods import Pod, PodFailed, Termination

__all__ = ["Cluster", "Pod", "PodFailed", "Termination", "Unsupported", "load_objects"]
