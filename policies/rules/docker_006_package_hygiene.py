"""D6: package managers used so layers stay small and reproducible."""

from __future__ import annotations

from slm_deploy.policies.docker_helpers import commands, env_pairs, flag_values, instructions, stages, text_of
from slm_deploy.policies.model import CIS_DOCKER, HADOLINT, TRIVY, Rule, Severity, Violation, bench

YES = {"-y", "--yes", "--assume-yes", "-qy", "-yq", "-qqy", "-yqq"}


def _apt_problems(words: list[str], run_text: str, cache_mounted: bool) -> list[str]:
    """Problems with one apt-get install command."""
    problems = []
    if not (YES & set(words)):
        problems.append("apt-get install must run non-interactively with -y")
    if "--no-install-recommends" not in words:
        problems.append("apt-get install must pass --no-install-recommends")
    if "/var/lib/apt/lists" not in run_text and not cache_mounted:
        problems.append("apt-get install must remove /var/lib/apt/lists/* in the same RUN")
    return problems


def check(dockerfile, ctx):
    """Yield violations for apt, pip, apk, yum/dnf/zypper usage that bloats or destabilises layers."""
    for stage in stages(dockerfile):
        pip_no_cache = any(name == "PIP_NO_CACHE_DIR" for env in instructions(stage, "ENV")
                           for name, _ in env_pairs(env))
        for run in instructions(stage, "RUN"):
            line = run.get("line")
            text = text_of(run)
            cmds = commands(run)
            cache_mounted = any("type=cache" in m for m in flag_values(run, "mount"))
            heads = [c[0] for c in cmds]
            if "apt" in heads:
                yield Violation("use apt-get rather than apt in scripts", line)
            has_update = any(c[:2] in (["apt-get", "update"], ["apt", "update"]) for c in cmds)
            has_install = any(c[0] in ("apt-get", "apt") and "install" in c for c in cmds)
            if has_update and not has_install:
                yield Violation("apt-get update must be combined with apt-get install in the same RUN", line)
            for words in cmds:
                if words[0] in ("apt-get", "apt") and ("dist-upgrade" in words or "upgrade" in words[1:2]):
                    yield Violation("do not upgrade the whole distribution in the image; pin a newer base", line)
                if words[0] == "apt-get" and "install" in words:
                    for problem in _apt_problems(words, text, cache_mounted):
                        yield Violation(problem, line)
                if "pip" in words[0] or (words[0].startswith("python") and "pip" in words[1:3]):
                    if "install" in words and "--no-cache-dir" not in words and not pip_no_cache \
                            and not cache_mounted:
                        yield Violation("pip install must pass --no-cache-dir", line)
                if words[0] == "apk" and "add" in words and "--no-cache" not in words:
                    yield Violation("apk add must pass --no-cache", line)
                for tool in ("yum", "dnf", "microdnf", "zypper"):
                    if words[0] == tool and ("install" in words or "in" in words):
                        if tool != "zypper" and not (YES & set(words)):
                            yield Violation(f"{tool} install must run non-interactively with -y", line)
                        if f"{tool} clean" not in text:
                            yield Violation(f"{tool} install must be followed by {tool} clean in the same RUN",
                                            line)


RULE = Rule(
    id="slm-docker-006",
    name="Package managers run non-interactively, without recommends or caches, in single layers.",
    severity=Severity.MEDIUM,
    controls=("D6",),
    kinds=frozenset({"Dockerfile"}),
    rationale="Stale package indexes, recommended extras and caches enlarge the attack surface and the "
              "image, and an update in its own layer installs outdated packages from a cached index.",
    remediation="Use `apt-get update && apt-get install -y --no-install-recommends <pkgs> && rm -rf "
                "/var/lib/apt/lists/*` in one RUN, `pip install --no-cache-dir`, `apk add --no-cache`, and "
                "`yum|dnf|zypper clean` after installs.",
    benchmarks=(bench(CIS_DOCKER, "4.3", "4.7"),
                bench(TRIVY, "DS-0017", "DS-0021", "DS-0024", "DS-0029", "DS-0025", "DS-0015", "DS-0019",
                      "DS-0020", "DS-0027"),
                bench(HADOLINT, "DL3009", "DL3014", "DL3015", "DL3019", "DL3027", "DL3042")),
    check=check,
    tags=("dockerfile", "supply-chain"),
)
