"""Registries: one entry per pre-training method / fine-tuning init and per dataset, read by everything else.

Config Literals, CLI choices, the stage grid, acquisition and the report derive their name lists from here.
Import-light on purpose (the Snakefile imports the stage table, which reads these): no torch, no pydantic;
heavy code is named by dotted path and imported only when used.
"""
