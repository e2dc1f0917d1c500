"""The pre-deployment gate (`ecsdoctor gate`): a task definition file judged before it is
registered, offline or against the live cluster and service it goes to.

A product on top of the engine: it reads the candidate file (`candidate`), runs the engine's
checks on it, applies waivers and renders the engine's Report. The engine never imports it.
"""
