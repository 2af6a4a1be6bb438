"""Where expensive test artefacts (rootfs tarballs, registry data, scanner caches) persist between runs.

The same root and locks as the package's artifact cache, so a llama.cpp build made by `slm-deploy pins
--update` and one made by the suite are one build.
"""

from slm_deploy.pins.interfaces.artifacts import cache_root, exclusive

__all__ = ["cache_root", "exclusive"]
