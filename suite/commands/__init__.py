"""The front door: one module per `python -m suite` subcommand (dispatched by suite.cli).

May import: every other stage.
"""
