"""Checks on CloudWatch series: CPU, memory trend, CPU credits, NAT gateways, target groups.

Every judgement here is over time, measured on timestamps (a series holds one value per
`period` and datapoints go missing). A metric that is absent from the bundle is `unknown`
with what would be needed, never a pass: "no data" is not "no problem".

One module per thing measured, each holding its checks and the analysis behind their
results: `cpu` (service CPU saturation), `memory` (leak trend), `cpu_credits` (burstable
hosts), `nat` (NAT gateways), `load_balancer` (target groups). `service_series` is the
shared way to read a service's AWS/ECS series or say why there is none.
"""
