"""Incidents that need the past (tests/incidents/history.py) in the incident suite, so the
accuracy bench and the ranking sensitivity test cover them like every other incident: each
is the healthy account with its benign night of history and one thing broken. The fixed OOM
(`resolved-oom`) and the healthy night are not here: their top diagnosis is not the
incident (a resolved diagnosis ranks below every active one); tests/incidents/test_history.py
covers them."""

from __future__ import annotations

from collections.abc import Sequence

from tests.incidents import history, s_lb, s_network, s_start
from tests.incidents.scenarios import Break, Cluster, Expect, fires, scenario, scenario_of


def _checks(brk: Break) -> Sequence[Expect]:
    """The checks the same break must fire in the present-hour incident it builds on."""
    return scenario_of(brk).checks


def _with_night(brk: Break) -> Break:
    """The break behind the night's benign history, events in time order."""
    def run(c: Cluster) -> None:
        history.night(c)
        brk(c)
        history.in_order(c)
    run.__doc__ = brk.__doc__
    run.__name__ = brk.__name__
    return run


def _register(name: str, expected: str, brk: Break, *checks: Expect,
              services: tuple[str, ...] = ()) -> None:
    scenario(name, expected, *checks, services=services)(_with_night(brk))


_register("leak-in-history", "memory-leak", history.leak_in_history,
          fires("stopped-task-oom", "checkout"), services=("checkout",))
_register("route-deleted-by-user", "egress-route-missing", history.route_deleted_by_user,
          *_checks(s_network.egress_route_missing), services=("web",))
_register("ingress-revoked-by-ci", "security-group-blocks-lb", history.ingress_revoked_by_ci,
          *_checks(s_lb.sg_blocks_lb), services=("checkout",))
_register("deploy-then-crash-loop", "app-crash-loop", history.deploy_then_crash_loop,
          *_checks(s_start.crash_loop), services=("checkout",))
_register("noise-before-failure", "security-group-blocks-lb", history.noise_before_failure,
          *_checks(s_lb.sg_blocks_lb), services=("checkout",))
