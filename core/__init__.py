"""The mechanism (formulas, blocks, reports, hardware, serving) and the Python API (core/api.py:
`analyze_model`, `plan_model`, `sweep`, `load_model`), imported as
`transformer_roofline.core` and re-exported by `transformer_roofline`."""
