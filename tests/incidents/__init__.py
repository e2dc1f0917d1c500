"""Incident test suite: a realistic healthy cluster (`_base.py`), the documented incidents
as functions that break one thing in it (`scenarios.py` and `s_*.py`), and the test that
runs every one of them through the real engine (`test_incidents.py`). `bench/accuracy.py`
measures top-1 / top-3 accuracy over the same scenarios."""
