"""Analysis time against bundle size: `Engine().analyze` on in-memory bundles, no AWS.

The unit is the incident suite's healthy `prod` cluster (tests/incidents/healthy.py: six
services, 17 tasks, three container instances, 86 metric series of three hours at one
minute). A bundle of size ``copies`` repeats that unit ``copies`` times inside the same
cluster, VPC and ALB: every copy renames its services (`web` → `web-004`, everywhere the
name appears: ARNs, `group`, task definition families, target groups, metric dimensions,
events, scaling targets), its task ids, container instances, EC2 instances, task security
groups and ENIs, so nothing collides; the network (subnets, route tables, NAT gateways,
endpoints, the ALB) stays shared, as it does in a real large cluster. Services, tasks,
instances and metric series all grow by the same factor. ``per_service`` multiplies the
Fargate services' tasks (desired and running counts, target registrations and Container
Insights task counts follow) to reach large task counts with a realistic number of services.

Three measurements, side by side in one run (median of ``--repeat`` runs each):

- 1× (``--copies``, default 3) and 10× (ten times as many copies): the time must grow at
  most linearly, ratio ≤ 11;
- a bundle of about 10,000 tasks (20 copies whose Fargate services run 42× their tasks):
  under 2 s.

The last line is the summary:

    analyze: 1x A.AA s, 10x B.BB s — ratio R.R (≤ 11); 10,000 tasks in C.CC s

Run from the repository root: `python bench/analyze_scale.py [--copies 3] [--repeat 3]
[--profile]` (``--profile`` prints the top of a cProfile of the 10× run).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import json
import math
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checker.pipeline import Engine
from tests.incidents import healthy as base
from tests.incidents.healthy import healthy_cluster

Item = dict[str, Any]

#: Collections every copy adds to (the rest, network and account-wide, stay shared).
PER_COPY = ("services", "tasks", "task_definitions", "target_groups", "target_health",
            "container_instances", "ec2_instances", "scalable_targets", "scaling_policies")
#: Metric namespaces whose series belong to a copy (NAT gateways are shared).
PER_COPY_METRICS = frozenset({"AWS/ECS", "ECS/ContainerInsights", "AWS/EC2",
                              "AWS/ApplicationELB"})
SERVICE_NAME = re.compile(r"(?<![A-Za-z0-9_.])(" + "|".join(s.name for s in base.SPECS)
                          + r")(?![A-Za-z0-9_])")
TASK_ID = re.compile(r"task/prod/([0-9a-f]{32})")
ENI_ID = re.compile(r"eni-0([0-9a-f]{16})")
TARGET_TASKS = 10_000


def _hex_ids(unit: Item) -> set[str]:
    """The per-copy hex ids of the unit: task ids, instance ids, task groups, ENIs."""
    text = json.dumps(unit["resources"]["tasks"])
    ids = set(TASK_ID.findall(text)) | set(ENI_ID.findall(text))
    ids |= {i[2:] for i in base.INSTANCES}
    ids |= {base.task_sg(s.name)[3:] for s in base.SPECS if s.fargate}
    return ids


def _mangle(hex_id: str, copy_no: int, salt: int = 0) -> str:
    """The same id in another copy: its first five hex digits carry the copy number."""
    return f"{salt:1x}{copy_no:04x}{hex_id[5:]}"


def renamed(unit: Item, copy_no: int) -> Item:
    """The unit with every per-copy name and id renamed for copy ``copy_no`` (0: as is)."""
    if copy_no == 0:
        return copy.deepcopy(unit)
    ids = _hex_ids(unit)
    text = json.dumps(unit)
    text = SERVICE_NAME.sub(lambda m: f"{m.group(1)}-{copy_no:03d}", text)
    hexes = re.compile("|".join(sorted(ids, key=len, reverse=True)))
    text = hexes.sub(lambda m: _mangle(m.group(0), copy_no), text)
    out: Item = json.loads(text)
    return out


def _task_groups(unit: Item) -> set[str]:
    return {g["GroupId"] for g in unit["resources"]["security_groups"]
            if g["GroupId"] in {base.task_sg(s.name) for s in base.SPECS}}


def scaled_bundle(copies: int, per_service: int = 1, seed: int = 7) -> Item:
    """``copies`` renamed copies of the healthy unit in one cluster; with ``per_service`` >
    1 every Fargate service runs that many times its tasks."""
    unit = healthy_cluster(seed)
    out = copy.deepcopy(unit)
    res = out["resources"]
    for key in PER_COPY:
        res[key] = []
    out["metrics"] = [m for m in unit["metrics"] if m["namespace"] not in PER_COPY_METRICS]
    groups = _task_groups(unit)
    res["security_groups"] = [g for g in res["security_groups"] if g["GroupId"] not in groups]
    for n in range(copies):
        part = renamed(unit, n)
        if per_service > 1:
            multiply_tasks(part, per_service, n)
        for key in PER_COPY:
            res[key] += part["resources"][key]
        out["metrics"] += [m for m in part["metrics"] if m["namespace"] in PER_COPY_METRICS]
        res["security_groups"] += [g for g in part["resources"]["security_groups"]
                                   if g["GroupId"] not in {x["GroupId"]
                                                           for x in res["security_groups"]}]
        _join_capacity(res, part)
    cluster = res["clusters"][0]
    cluster["activeServicesCount"] = len(res["services"])
    cluster["registeredContainerInstancesCount"] = len(res["container_instances"])
    return out


def _join_capacity(res: Item, part: Item) -> None:
    """The copy's instances join the one Auto Scaling group behind the capacity provider."""
    asg = res["auto_scaling_groups"][0]
    known = {i["InstanceId"] for i in asg["Instances"]}
    asg["Instances"] += [i for i in part["resources"]["auto_scaling_groups"][0]["Instances"]
                         if i["InstanceId"] not in known]
    size = len(asg["Instances"])
    asg.update(DesiredCapacity=size, MinSize=size, MaxSize=2 * size)


def multiply_tasks(part: Item, factor: int, copy_no: int) -> None:
    """Every Fargate task of the copy ``factor`` times (new ids and addresses), with the
    services' counts, target registrations and task-count metrics to match."""
    res = part["resources"]
    fargate = {s["serviceName"] for s in res["services"] if s.get("launchType") == "FARGATE"}
    clones: list[Item] = []
    for task in res["tasks"]:
        if task["group"].removeprefix("service:") not in fargate:
            continue
        for k in range(1, factor):
            clones.append(_clone_task(task, copy_no, k))
    res["tasks"] += clones
    for svc in res["services"]:
        if svc["serviceName"] in fargate:
            for holder in (svc, *svc.get("deployments", [])):
                for field in ("desiredCount", "runningCount"):
                    holder[field] = holder[field] * factor
    _multiply_targets(res, clones)
    for series in part["metrics"]:
        if (series["namespace"] == "ECS/ContainerInsights"
                and series["dimensions"].get("ServiceName") in fargate
                and series["name"] in ("RunningTaskCount", "DesiredTaskCount")):
            series["values"] = [v * factor if v is not None else None for v in series["values"]]
    for target in res["scalable_targets"]:
        if target["ResourceId"].rsplit("/", 1)[-1] in fargate:
            target["MinCapacity"] *= factor
            target["MaxCapacity"] *= factor


def _clone_task(task: Item, copy_no: int, k: int) -> Item:
    clone = copy.deepcopy(task)
    tid = clone["taskArn"].rsplit("/", 1)[-1]
    clone["taskArn"] = clone["taskArn"][: -len(tid)] + _mangle(tid, copy_no * 256 + k, salt=8)
    for attachment in clone.get("attachments", []):
        details = {d["name"]: d for d in attachment["details"]}
        ip = details["privateIPv4Address"]["value"].rsplit(".", 1)[0]
        address = f"{ip}.{(k * 37 + copy_no) % 250 + 4}"
        details["privateIPv4Address"]["value"] = address
        details["networkInterfaceId"]["value"] = f"eni-0{_mangle(tid[:16], copy_no * 256 + k)}"
        attachment["id"] = f"att-{address}"
    return clone


def _multiply_targets(res: Item, clones: list[Item]) -> None:
    by_group: dict[str, list[Item]] = {}
    for task in clones:
        if task["lastStatus"] == "RUNNING":
            by_group.setdefault(task["group"], []).append(task)
    for health in res["target_health"]:
        name = health["TargetGroupArn"].split("targetgroup/prod-", 1)[1].split("/", 1)[0]
        descriptions = health["TargetHealthDescriptions"]
        if not descriptions or not descriptions[0]["Target"]["Id"].startswith("10."):
            continue  # instance targets (EC2 services) are not multiplied
        template = descriptions[0]
        for task in by_group.get(f"service:{name}", []):
            ip = next(d["value"] for a in task["attachments"] for d in a["details"]
                      if d["name"] == "privateIPv4Address")
            entry = copy.deepcopy(template)
            entry["Target"]["Id"] = ip
            descriptions.append(entry)


def sizes(bundle: Item) -> str:
    res = bundle["resources"]
    return (f"{len(res['services'])} services, {len(res['tasks'])} tasks, "
            f"{len(res['container_instances'])} instances, {len(bundle['metrics'])} series")


def timed(engine: Engine, bundle: Item, repeat: int) -> tuple[float, int]:
    """Median seconds of ``repeat`` analyses, and the number of findings (a sanity value)."""
    times, findings = [], 0
    for _ in range(repeat):
        gc.collect()  # every run starts from the same heap (the previous report is garbage)
        start = time.perf_counter()
        report = engine.analyze(bundle, generated_at="2026-11-20T10:05:00+00:00")
        times.append(time.perf_counter() - start)
        findings = len(report.findings)
    return statistics.median(times), findings


def per_service_for(copies: int, target: int = TARGET_TASKS) -> int:
    """The Fargate task multiplier that brings ``copies`` copies to about ``target`` tasks
    (a copy has 12 Fargate tasks and 5 EC2 ones)."""
    unit = healthy_cluster()
    fargate = {s.name for s in base.SPECS if s.fargate}
    n_fargate = sum(t["group"].removeprefix("service:") in fargate
                    for t in unit["resources"]["tasks"])
    rest = len(unit["resources"]["tasks"]) - n_fargate
    return max(1, math.ceil((target / copies - rest) / n_fargate))


def profile(engine: Engine, bundle: Item, top: int = 25) -> str:
    prof = cProfile.Profile()
    prof.enable()
    engine.analyze(bundle)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def run(copies: int = 3, repeat: int = 3, big_copies: int = 20, target: int = TARGET_TASKS,
        show: Callable[[str], None] = print, do_profile: bool = False) -> dict[str, float]:
    """Measure and print; returns the numbers (the smoke test calls it at a tiny size)."""
    engine = Engine()
    one, ten = scaled_bundle(copies), scaled_bundle(10 * copies)
    big = scaled_bundle(big_copies, per_service_for(big_copies, target))
    engine.analyze(one)  # warm-up: lazy imports, YAML tables, first-use caches
    rows = []
    for label, bundle in (("1x", one), ("10x", ten), (f"{target:,} tasks", big)):
        seconds, findings = timed(engine, bundle, repeat)
        rows.append((label, bundle, seconds, findings))
        show(f"{label:>14}  {seconds:7.3f} s  {findings:6d} findings  ({sizes(bundle)})")
    if do_profile:
        show(profile(engine, ten))
    t1, t10, tbig = (r[2] for r in rows)
    ratio = t10 / t1 if t1 else math.inf
    n_big = len(big["resources"]["tasks"])
    show(f"analyze: 1x {t1:.2f} s, 10x {t10:.2f} s — ratio {ratio:.1f} (≤ 11); "
         f"{n_big:,} tasks in {tbig:.2f} s")
    return {"1x": t1, "10x": t10, "ratio": ratio, "big": tbig, "big_tasks": float(n_big)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of the unit at 1x")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile the 10x run")
    args = parser.parse_args()
    run(args.copies, args.repeat, do_profile=args.profile)


if __name__ == "__main__":
    main()
