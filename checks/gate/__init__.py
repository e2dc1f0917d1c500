"""The gate's checks (`ecsdoctor gate`): a task definition judged before it is registered
and deployed. Checks like any other — declared with `@check`, area `gate`, run by the graph
runner — whose facts are the gate's bundle: the candidate as the only task definition, the
gate's input beside it (bundle key `gate`: the file, what reading it found, the target, the
waivers; checks/lib/gate.py), and, with `--cluster`, the target as collected plus what AWS
says about the names the file holds (checker/collect/refs.py).

One module per layer: `input` (the file alone, offline), `target` (the cluster and service
it goes to), `revision` (the candidate against the revision the service runs now),
`references` (the roles, images, secrets and log groups it names) and `waivers`. Every
result about the candidate says which field it is about (`path=`): the gate turns it into a
line of the file, where code scanning shows the alert. Without `--cluster` the checks that
need AWS data are skipped by the runner (Facts.skip_reason), saying how to get them checked.
"""
