"""The checks' public helper library: what more than one check area reads (task definitions,
hosts, ENI slots, metric series, stop reasons, service events, labels, knowledge tables).

No checks live here: `checker.registry.load` does not look in this package. Check modules
import these helpers by their public names; nothing outside `checks/` needs them except the
tests that pin their behaviour.
"""
