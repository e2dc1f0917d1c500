"""Check nodes, one module per area. Modules starting with `_` hold shared helpers."""
