"""Transformer Roofline Analyzer: the mechanism (formulas, blocks, reports, hardware) and the
Python API (`analyze_model`, `plan_model`, `sweep`, `load_model`; see core/api.py)."""

from core.api import Analysis, Scenario, analyze_model, load_model, plan_model, sweep

__all__ = ["Analysis", "Scenario", "analyze_model", "load_model", "plan_model", "sweep"]
