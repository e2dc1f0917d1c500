"""Mixed incidents: two causes at once, on different services or on the same one. Both must
be among the top three diagnoses."""

from __future__ import annotations

from tests.incidents.s_cpu import cpu_credits, high_cpu
from tests.incidents.s_hygiene import plaintext_secrets
from tests.incidents.s_lb import sg_blocks_lb
from tests.incidents.s_memory import memory_leak_after_deploy
from tests.incidents.s_network import egress_route_missing, nat_saturation
from tests.incidents.s_pending import insufficient_capacity
from tests.incidents.s_start import crash_loop
from tests.incidents.scenarios import mixed

mixed("mixed-leak-and-sg-blocks-lb", memory_leak_after_deploy, sg_blocks_lb)
mixed("mixed-high-cpu-and-crash-loop", high_cpu, crash_loop)
mixed("mixed-same-service-plaintext-and-crash-loop", plaintext_secrets, crash_loop)
mixed("mixed-egress-route-and-capacity", egress_route_missing, insufficient_capacity)
mixed("mixed-nat-saturation-and-cpu-credits", nat_saturation, cpu_credits)
