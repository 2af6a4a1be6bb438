"""`render SPEC... --out DIR` renders a fleet in one process: each bundle in DIR/<name>, and nothing is written
unless every spec renders and every target directory may be written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from slm_deploy.errors import Problem, SpecError
from tests.support.cli import run_in_process

SPEC = "name: {name}\nmodel: {{id: qwen3-1.7b}}\nruntime: {{kind: llamacpp}}\n"


def _spec(tmp_path: Path, name: str, text: str | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text if text is not None else SPEC.format(name=name), encoding="utf-8")
    return path


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_each_spec_gets_its_own_bundle_named_after_the_deployment(tmp_path: Path) -> None:
    specs = [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")]
    result = run_in_process("render", *map(str, specs), "--out", str(tmp_path / "fleet"))
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "fleet").iterdir()) == ["alpha", "beta"]
    for name in ("alpha", "beta"):
        manifest = json.loads((tmp_path / "fleet" / name / "manifest.json").read_text())
        assert manifest["generator"]["name"] == "slm-deploy"
        assert f"rendered {name}:" in result.stdout


def test_a_fleet_bundle_is_the_same_bytes_as_rendering_that_spec_alone(tmp_path: Path) -> None:
    specs = [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")]
    assert run_in_process("render", *map(str, specs), "--out", str(tmp_path / "fleet")).code == 0
    assert run_in_process("render", str(specs[1]), "--out", str(tmp_path / "alone")).code == 0
    assert _tree(tmp_path / "fleet" / "beta") == _tree(tmp_path / "alone")


def test_several_specs_default_to_build_name(tmp_path: Path) -> None:
    specs = [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")]
    assert run_in_process("render", *map(str, specs), cwd=tmp_path).code == 0
    assert (tmp_path / "build" / "alpha" / "manifest.json").is_file()
    assert (tmp_path / "build" / "beta" / "manifest.json").is_file()


def test_one_bad_spec_writes_nothing_and_names_its_file(tmp_path: Path) -> None:
    good = _spec(tmp_path, "alpha")
    bad = _spec(tmp_path, "broken", "name: broken\nmodel: {id: qwen3-1.7b}\nruntime: {kind: llamacpp}\n"
                                    "serving: {replicas: many}\n")
    result = run_in_process("render", str(good), str(bad), "--out", str(tmp_path / "fleet"))
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "broken.yaml:4" in result.stderr and "serving.replicas" in result.stderr
    assert "many" not in result.stderr
    assert not (tmp_path / "fleet").exists()


def test_every_bad_spec_is_reported_in_one_run(tmp_path: Path) -> None:
    first = _spec(tmp_path, "one", "name: one\nmodel: {id: qwen3-1.7b}\nruntime: {kind: nope}\n")
    second = _spec(tmp_path, "two", "name: two\nmodel: {id: qwen3-1.7b}\n")
    result = run_in_process("render", str(first), str(second), "--out", str(tmp_path / "fleet"))
    assert result.code == 2
    assert "one.yaml" in result.stderr and "two.yaml" in result.stderr
    assert not (tmp_path / "fleet").exists()


def test_a_refused_target_stops_the_run_before_any_bundle_is_written(tmp_path: Path) -> None:
    specs = [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")]
    foreign = tmp_path / "fleet" / "beta"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine\n")
    result = run_in_process("render", *map(str, specs), "--out", str(tmp_path / "fleet"))
    assert result.code == 2
    assert "not a slm-deploy bundle" in result.stderr
    assert not (tmp_path / "fleet" / "alpha").exists()
    assert (foreign / "notes.txt").read_text() == "mine\n"


def test_two_specs_with_one_deployment_name_are_refused(tmp_path: Path) -> None:
    first = _spec(tmp_path, "alpha")
    second = tmp_path / "copy.yaml"
    second.write_text(first.read_text())
    for args in ((str(first), str(second)), (str(first), str(first))):
        result = run_in_process("render", *args, "--out", str(tmp_path / "fleet"))
        assert result.code == 2, result.stdout
        assert "same bundle directory" in result.stderr
        # validate judges specs, not output folders: the stacks of one project share their deployment name
        assert run_in_process("validate", *args).code == 0
    assert not (tmp_path / "fleet").exists()


def test_one_spec_still_writes_into_out_itself(tmp_path: Path) -> None:
    result = run_in_process("render", str(_spec(tmp_path, "alpha")), "--out", str(tmp_path / "here"))
    assert result.code == 0, result.stderr
    assert (tmp_path / "here" / "manifest.json").is_file()


def test_json_lists_one_summary_per_bundle_with_every_file_written(tmp_path: Path) -> None:
    specs = [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")]
    result = run_in_process("render", *map(str, specs), "--out", str(tmp_path / "fleet"), "--json")
    assert result.code == 0, result.stderr
    summaries = json.loads(result.stdout)
    assert [s["name"] for s in summaries] == ["alpha", "beta"]
    for summary in summaries:
        assert sorted(summary["files"]) == sorted(_tree(Path(summary["out"])))


def test_quiet_fleet_render_prints_nothing(tmp_path: Path) -> None:
    specs = [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")]
    result = run_in_process("render", *map(str, specs), "--out", str(tmp_path / "fleet"), "--quiet")
    assert result.code == 0 and result.stdout == ""


K8S_SPEC = ("name: {name}\nmodel: {{id: qwen3-1.7b}}\nruntime: {{kind: llamacpp}}\nmonitoring: {{enabled: {monitoring}}}\n"
            "targets:\n  docker: {{registry: registry.example}}\n  kubernetes: {{namespace: {namespace}}}\n")


def _k8s_spec(tmp_path: Path, name: str, namespace: str, *, monitoring: bool) -> Path:
    text = K8S_SPEC.format(name=name, namespace=namespace, monitoring=str(monitoring).lower())
    return _spec(tmp_path, name, text)


def _refused_together(tmp_path: Path, *specs: Path) -> list[str]:
    """What `render` and `validate` print refusing the specs together: exit 2, no traceback, nothing written."""
    errors = []
    for command in ("render", "validate"):
        result = run_in_process(command, *map(str, specs), *(["--out", str(tmp_path / "fleet")]
                                                             if command == "render" else []))
        assert result.code == 2, result.stdout
        assert "Traceback" not in result.stderr
        errors.append(result.stderr)
    assert not (tmp_path / "fleet").exists()
    return errors


def test_a_namespace_where_another_spec_bundles_monitoring_is_refused(tmp_path: Path) -> None:
    """Rendered together for one cluster: beta's deny-all policy and quota would cut off alpha's Prometheus."""
    alpha = _k8s_spec(tmp_path, "alpha", "alpha", monitoring=True)
    beta = _k8s_spec(tmp_path, "beta", "monitoring", monitoring=False)
    for stderr in _refused_together(tmp_path, alpha, beta):
        assert f"{beta}:7: targets.kubernetes.namespace:" in stderr, stderr
        assert "the bundled monitoring stack" in stderr and str(alpha) not in stderr


def test_the_same_namespaces_render_when_no_spec_bundles_monitoring_there(tmp_path: Path) -> None:
    alpha = _k8s_spec(tmp_path, "alpha", "alpha", monitoring=False)
    beta = _k8s_spec(tmp_path, "beta", "monitoring", monitoring=False)
    assert run_in_process("validate", str(alpha), str(beta)).code == 0


def test_validate_names_the_file_of_every_problem_of_every_spec(tmp_path: Path, monkeypatch) -> None:
    """Both bad files are reported in one run, and a problem the renderer raises without a line (no field of the
    file holds it) still names its file."""
    import slm_deploy.render.bundle as bundle

    unfit = _spec(tmp_path, "unfit", SPEC.format(name="unfit") + "resources: {memory: 1Gi}\n")
    good = _spec(tmp_path, "good")
    result = run_in_process("validate", str(good), str(unfit), str(_spec(tmp_path, "bare", "name: bare\n")))
    assert result.code == 2
    assert f"{unfit}:4: resources.memory" in result.stderr and f"{tmp_path / 'bare.yaml'}:1: model" in result.stderr
    real = bundle._rendered

    def refuse_beta(deployment):
        if deployment.spec.name == "beta":
            raise SpecError(Problem("targets", "cannot be rendered here"))
        return real(deployment)

    monkeypatch.setattr(bundle, "_rendered", refuse_beta)
    result = run_in_process("validate", str(good), str(_spec(tmp_path, "beta")))
    assert result.code == 2 and f"error: {tmp_path / 'beta.yaml'}:1: targets: cannot be rendered here" in result.stderr


def test_every_kind_of_unreadable_spec_names_its_file_in_a_fleet(tmp_path: Path) -> None:
    """Files that cannot be read, parsed or copied are reported with their file, whichever spec of the run they are."""
    broken = {
        "missing": tmp_path / "missing.yaml",
        "malformed": _spec(tmp_path, "malformed", "name: [unclosed\n"),
        "duplicate": _spec(tmp_path, "duplicate", SPEC.format(name="duplicate") + "name: again\n"),
        "list": _spec(tmp_path, "list", "- name: a\n"),
    }
    result = run_in_process("validate", str(_spec(tmp_path, "good")), *map(str, broken.values()))
    assert result.code == 2
    problem_lines = [line.removeprefix("error: ") for line in result.stderr.splitlines() if not line.startswith(" ")]
    assert len(problem_lines) == len(broken)
    for name, path in broken.items():
        assert any(line.startswith(str(path)) for line in problem_lines), (name, result.stderr)


def test_two_bundled_monitoring_stacks_in_one_namespace_are_refused(tmp_path: Path) -> None:
    """Each bundled stack's quota and policies are sized for its own pods: two in one namespace would starve, and
    each spec is told to give its stack a namespace of its own, which then renders."""
    alpha = _k8s_spec(tmp_path, "alpha", "alpha", monitoring=True)
    beta = _k8s_spec(tmp_path, "beta", "beta", monitoring=True)
    for stderr in _refused_together(tmp_path, alpha, beta):
        assert ("targets.kubernetes.monitoring_namespace: is where another deployment on the same cluster places the "
                "bundled monitoring stack") in stderr, stderr
        assert str(alpha) in stderr and str(beta) in stderr
    beta.write_text(beta.read_text().replace("{namespace: beta}",
                                               "{namespace: beta, monitoring_namespace: beta-monitoring}"))
    assert run_in_process("validate", str(alpha), str(beta)).code == 0


def test_a_bundled_stack_in_the_namespace_of_another_deployments_prometheus_operator_is_refused(tmp_path: Path) -> None:
    """Beta's Prometheus operator runs in `monitoring` (existing mode): alpha's bundled stack there would put it
    behind a deny-all policy and a quota sized for alpha's pods alone; alpha is told, and renders once moved."""
    alpha = _k8s_spec(tmp_path, "alpha", "alpha", monitoring=True)
    beta = _spec(tmp_path, "beta", K8S_SPEC.format(name="beta", namespace="beta", monitoring="true").replace(
        "{enabled: true}", "{enabled: true, mode: existing}"))
    assert run_in_process("validate", str(beta)).code == 0
    for stderr in _refused_together(tmp_path, alpha, beta):
        assert (f"{alpha}:7: targets.kubernetes.monitoring_namespace: is where another deployment on the same cluster "
                "places the Prometheus that scrapes the deployment") in stderr, stderr
        assert str(beta) not in stderr
    alpha.write_text(alpha.read_text().replace("{namespace: alpha}",
                                               "{namespace: alpha, monitoring_namespace: alpha-monitoring}"))
    assert run_in_process("validate", str(alpha), str(beta)).code == 0


ALPHA = ("name: alpha\nmodel: {id: qwen3-1.7b}\nruntime: {kind: llamacpp}\n"
         "targets:\n  docker: {registry: registry.example.com}\n  compose: {}\n"
         "  kubernetes: {monitoring_namespace: alpha-monitoring}\n"
         "secrets:\n  api-keys: {backend: kubernetes}\n")
BETA = ("name: beta\nmodel: {id: phi-4-mini-instruct}\nruntime: {kind: vllm}\n"
        "resources: {gpu: {count: 1, type: nvidia-a100-80gb}}\n"
        "targets:\n  docker: {registry: registry.example.com}\n  compose: {}\n"
        "secrets:\n  api-keys: {backend: file}\n")
ALPHA_ELSEWHERE = ("name: alpha\nmodel: {id: qwen3-1.7b}\nruntime: {kind: llamacpp}\n"
                   "serving: {auth: {api_keys_secret: team-keys}}\n"
                   "targets:\n  docker: {registry: registry.example.com, repository: team}\n"
                   "  kubernetes: {monitoring_namespace: alpha-monitoring}\n"
                   "secrets:\n  team-keys: {backend: kubernetes}\n")
UNGUARDED = ("name: alpha\nmodel: {id: qwen3-1.7b}\nruntime: {kind: llamacpp}\nserving: {auth: {enabled: false}}\n"
             "targets:\n  docker: {registry: registry.example.com}\n  compose: {}\n")
"""A's runtime without the gateway: its dashboards show other panels."""


def test_specs_rendered_one_after_another_in_one_process_match_their_renders_alone(tmp_path: Path) -> None:
    """What a render keeps for the next spec (templates, Dockerfiles, rule files, dashboards, YAML forms of
    strings) never leaks into it: A, then B (another runtime, targets and secret backend), then A's name with other
    targets and secrets, then A's runtime without a gateway (other dashboard panels), then A again, each the bytes
    of its own render in a fresh process."""
    from slm_deploy.render.bundle import render_bundle
    from slm_deploy.spec.loader import load_deployment

    specs = {"alpha": _spec(tmp_path, "alpha", ALPHA), "beta": _spec(tmp_path, "beta", BETA),
             "elsewhere": _spec(tmp_path, "elsewhere", ALPHA_ELSEWHERE),
             "unguarded": _spec(tmp_path, "unguarded", UNGUARDED)}
    alone = {}
    for key, path in specs.items():
        result = subprocess.run([sys.executable, "-m", "slm_deploy.cli", "render", str(path), "--out",
                                 str(tmp_path / f"alone-{key}"), "--quiet"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        alone[key] = _tree(tmp_path / f"alone-{key}")
    assert len({json.dumps({k: v.hex() for k, v in tree.items()}) for tree in alone.values()}) == len(specs)
    for key in ("alpha", "beta", "elsewhere", "unguarded", "alpha"):
        files = render_bundle(load_deployment(specs[key])).files
        assert {name: text.encode() for name, text in files.items()} == alone[key], key


def test_an_slo_the_spec_sets_is_judged_even_after_a_spec_that_leaves_it_to_its_default(tmp_path: Path) -> None:
    """Setting a field to its default still asks for it to be measured: a spec that leaves the SLO out renders,
    the same spec naming it on a runtime that cannot measure it is refused, in whichever order one process sees
    them."""
    from slm_deploy.render.bundle import render_bundle
    from slm_deploy.spec.loader import load_deployment

    plain = _spec(tmp_path, "plain", SPEC.format(name="gamma") + "serving: {auth: {enabled: false}}\n")
    named = _spec(tmp_path, "named", plain.read_text() + "monitoring: {slo: {ttft_p95_seconds: 2.0}}\n")
    render_bundle(load_deployment(plain))
    try:
        render_bundle(load_deployment(named))
    except SpecError as exc:
        assert [p.path for p in exc.problems] == ["monitoring.slo.ttft_p95_seconds"]
    else:
        raise AssertionError("an SLO no metric measures was accepted")


def test_two_deployments_that_would_each_create_one_namespace_are_refused(tmp_path: Path) -> None:
    """Each bundle would create the Namespace with a quota sized for itself alone, and a quota counts every pod of
    its namespace: both specs are told, each naming the other's file; shared_namespace on both leaves the namespace
    to its owner, and then neither bundle creates it."""
    alpha = _k8s_spec(tmp_path, "alpha", "team", monitoring=False)
    beta = _k8s_spec(tmp_path, "beta", "team", monitoring=False)
    for stderr in _refused_together(tmp_path, alpha, beta):
        assert f"{alpha}:7: targets.kubernetes.namespace: is also the namespace of the deployment at {beta}:7" in stderr
        assert f"{beta}:7: targets.kubernetes.namespace: is also the namespace of the deployment at {alpha}:7" in stderr
        assert "team" not in stderr.replace(str(tmp_path), "")
    beta.write_text(beta.read_text().replace("{namespace: team}", "{namespace: team, shared_namespace: true}"))
    stderr = _refused_together(tmp_path, alpha, beta)[1]
    assert str(alpha) in stderr and f"{beta}:7: targets" not in stderr, "only the spec that creates it is refused"
    alpha.write_text(alpha.read_text().replace("{namespace: team}", "{namespace: team, shared_namespace: true}"))
    assert run_in_process("render", str(alpha), str(beta), "--out", str(tmp_path / "fleet")).code == 0
    for name in ("alpha", "beta"):
        rendered = "".join(p.read_text() for p in (tmp_path / "fleet" / name).rglob("*.yaml"))
        assert "kind: Namespace" not in rendered and "kind: ResourceQuota" not in rendered
        assert "namespace: team" in rendered


def test_a_deployment_named_like_another_ones_namespace_is_refused(tmp_path: Path) -> None:
    """The namespace defaults to the name: the spec that leaves it unset is pointed at its name."""
    alpha = _spec(tmp_path, "alpha", K8S_SPEC.format(name="alpha", namespace="beta", monitoring="false"))
    beta = _spec(tmp_path, "beta", K8S_SPEC.format(name="beta", namespace="beta", monitoring="false")
                 .replace("{namespace: beta}", "{}"))
    stderr = _refused_together(tmp_path, alpha, beta)[0]
    assert f"{beta}:1: name: is also the namespace of the deployment at {alpha}:7" in stderr, stderr


def _fleet_with_a_previous_bundle(tmp_path: Path) -> tuple[list[Path], Path, dict[str, bytes]]:
    """Three specs; alpha rendered before, with a file of the user's in it; beta and gamma not yet."""
    specs = [_spec(tmp_path, name) for name in ("alpha", "beta", "gamma")]
    fleet = tmp_path / "fleet"
    assert run_in_process("render", str(specs[0]), "--out", str(fleet / "alpha")).code == 0
    (fleet / "alpha" / "notes.txt").write_text("mine\n")
    specs[0].write_text(SPEC.format(name="alpha") + "serving: {concurrency: 2}\n")
    return specs, fleet, _tree(fleet / "alpha")


def test_a_directory_in_the_way_inside_a_bundle_refuses_the_fleet_before_anything_is_written(tmp_path: Path) -> None:
    """A directory of the user's where gamma's previous bundle had a file: refused up front, named inside the
    bundle (never a staging path), and no bundle of the run is written."""
    specs, fleet, before = _fleet_with_a_previous_bundle(tmp_path)
    assert run_in_process("render", str(specs[2]), "--out", str(fleet / "gamma")).code == 0
    compose = fleet / "gamma" / "compose" / "compose.yaml"
    compose.unlink()
    compose.mkdir()
    (compose / "x").write_text("mine\n")
    gamma = _tree(fleet / "gamma")
    result = run_in_process("render", *map(str, specs), "--out", str(fleet))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "compose/compose.yaml (a directory where the bundle writes a file)" in result.stderr, result.stderr
    assert "a file is in the way" not in result.stderr and "/.gamma." not in result.stderr
    assert sorted(p.name for p in fleet.iterdir()) == ["alpha", "gamma"]
    assert _tree(fleet / "alpha") == before and _tree(fleet / "gamma") == gamma


def test_a_full_disk_while_staging_a_later_bundle_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    """Every bundle is staged before any is swapped in: the disk filling up on gamma's leaves alpha's previous
    bundle and the user's file as they were, and no beta, nor any staging directory."""
    import errno

    from slm_deploy.render import writer

    specs, fleet, before = _fleet_with_a_previous_bundle(tmp_path)
    real = writer._write_new

    def fills_on_gamma(path: str, data: bytes, mode: int) -> None:
        if "gamma" in Path(path).parent.name or "gamma" in Path(path).parent.parent.name:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        real(path, data, mode)

    monkeypatch.setattr(writer, "_write_new", fills_on_gamma)
    result = run_in_process("render", *map(str, specs), "--out", str(fleet))
    monkeypatch.undo()
    assert result.code == 1 and "No space left on device" in result.stderr and "nothing was changed" in result.stderr
    assert "/.gamma." not in result.stderr, "the error names the bundle's path, not a staging directory that is gone"
    assert sorted(p.name for p in fleet.iterdir()) == ["alpha"]
    assert _tree(fleet / "alpha") == before


def test_a_failure_swapping_in_a_later_bundle_puts_back_the_earlier_ones(tmp_path: Path, monkeypatch) -> None:
    """Alpha and beta are already in place when gamma's rename fails: alpha's previous bundle comes back with the
    user's file, beta goes, and the fleet directory holds nothing the run made."""
    import errno

    import slm_deploy.render.writer as writer

    specs, fleet, before = _fleet_with_a_previous_bundle(tmp_path)
    real = writer._swap

    def full_on_gamma(staging: Path, out: Path):
        if out.name == "gamma":
            raise OSError(errno.ENOSPC, "No space left on device", str(staging / "compose"))
        return real(staging, out)

    monkeypatch.setattr(writer, "_swap", full_on_gamma)
    result = run_in_process("render", *map(str, specs), "--out", str(fleet))
    assert result.code == 1 and "nothing was changed" in result.stderr, result.stderr
    assert f"{fleet / 'gamma' / 'compose'})" in result.stderr and "/.gamma." not in result.stderr
    assert sorted(p.name for p in fleet.iterdir()) == ["alpha"]
    assert _tree(fleet / "alpha") == before


def test_a_bundle_that_cannot_be_put_back_is_named(tmp_path: Path, monkeypatch) -> None:
    """When putting alpha back fails too, the error says alpha was written (its name only), not that nothing was."""
    import errno

    import slm_deploy.render.writer as writer

    specs, fleet, _ = _fleet_with_a_previous_bundle(tmp_path)
    real_swap, real_undo = writer._swap, writer._undo

    def full_on_gamma(staging: Path, out: Path):
        if out.name == "gamma":
            raise OSError(errno.ENOSPC, "No space left on device", str(out))
        return real_swap(staging, out)

    def stuck_on_alpha(placement) -> None:
        if placement.out.name == "alpha":
            raise OSError(errno.EIO, "Input/output error")
        real_undo(placement)

    monkeypatch.setattr(writer, "_swap", full_on_gamma)
    monkeypatch.setattr(writer, "_undo", stuck_on_alpha)
    result = run_in_process("render", *map(str, specs), "--out", str(fleet))
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "written, and could not be put back as they were: alpha\n" in result.stderr, result.stderr
    assert "nothing was changed" not in result.stderr
    assert sorted(p.name for p in fleet.iterdir() if not p.name.startswith(".")) == ["alpha"]
    assert json.loads((fleet / "alpha" / "manifest.json").read_text())["deployment"] == "alpha"


def test_two_targets_that_are_links_to_one_directory_are_refused(tmp_path: Path) -> None:
    """alpha and beta are symbolic links to one folder: only the last bundle would be left, so neither is written."""
    specs = [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")]
    fleet = tmp_path / "fleet"
    (fleet / "real").mkdir(parents=True)
    for name in ("alpha", "beta"):
        (fleet / name).symlink_to("real")
    result = run_in_process("render", *map(str, specs), "--out", str(fleet))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert f"{fleet / 'alpha'} and {fleet / 'beta'} (one directory): two specs would write the same" in result.stderr
    assert list((fleet / "real").iterdir()) == []
