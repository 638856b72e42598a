"""The ``runner`` command line: one module per command group, each a thin Typer layer over the API. Only this
package prints or exits; its options are built from the config dataclasses (:mod:`runner.cli.options`)."""
