"""The embedded demo account behind `ecsdoctor demo`: moto's server on 127.0.0.1, seeded with
the documented incidents beside healthy services (`scenario`, `build`, `network`, `capacity`,
`metrics`), and the moto patches that make it fast and faithful (`moto_patches`, `moto_seed`).

A product on top of the engine and the collectors; the engine never imports it. moto is an
optional extra (`pip install '.[demo]'`), imported only inside functions.
"""
