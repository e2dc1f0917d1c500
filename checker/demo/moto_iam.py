"""iam:SimulatePrincipalPolicy for the demo account, which moto lacks (MOTO.md).

The scan simulates the task roles of services that use ECS Exec or run an X-Ray daemon
(checker/collect/task_roles.py). The demo models no IAM policies, so the answer is
"allowed" for every action, except the (role ARN, action) pairs in :data:`DENIED`.
:func:`patch_simulate` is installed and removed with the other patches
(checker.demo.moto_patches).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

#: (role ARN, action) pairs a simulation answers with implicitDeny.
DENIED: set[tuple[str, str]] = set()
_ORIGINAL: dict[str, Any] = {}
_ABSENT = object()
_RESPONSE = (
    '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
    "<EvaluationResults>{members}</EvaluationResults></SimulatePrincipalPolicyResult>"
    "<ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>"
    "</ResponseMetadata></SimulatePrincipalPolicyResponse>")
_MEMBER = ("<member><EvalActionName>{action}</EvalActionName><EvalResourceName>*"
           "</EvalResourceName><EvalDecision>{decision}</EvalDecision></member>")


def simulate(role: str, actions: list[str]) -> str:
    """The XML moto's IAM would answer (the query protocol IAM speaks)."""
    members = "".join(_MEMBER.format(
        action=escape(a), decision="implicitDeny" if (role, a) in DENIED else "allowed")
        for a in actions)
    return _RESPONSE.format(members=members)


def patch_simulate() -> None:
    """Give moto's IAM a SimulatePrincipalPolicy. Idempotent."""
    from moto.iam.responses import IamResponse

    if "simulate" in _ORIGINAL:
        return

    def simulate_principal_policy(self: Any) -> str:
        actions = self._get_param("ActionNames") or []
        return simulate(str(self._get_param("PolicySourceArn")),
                        [str(a) for a in actions] if isinstance(actions, list) else [])

    _ORIGINAL["simulate"] = IamResponse.__dict__.get("simulate_principal_policy", _ABSENT)
    setattr(IamResponse, "simulate_principal_policy", simulate_principal_policy)  # noqa: B010


def unpatch_simulate() -> None:
    """Put moto's IAM back as it was. Idempotent."""
    if "simulate" not in _ORIGINAL:
        return
    from moto.iam.responses import IamResponse

    original = _ORIGINAL.pop("simulate")
    if original is _ABSENT:
        delattr(IamResponse, "simulate_principal_policy")
    else:
        setattr(IamResponse, "simulate_principal_policy", original)  # noqa: B010
