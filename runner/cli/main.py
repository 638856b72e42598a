"""The ``runner`` command line: a thin Typer layer over the Python API. Only this layer prints or exits."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from runner import quiet
from runner.cli import audit as audit_cmd
from runner.cli import cache as cache_cmd
from runner.cli import catalog as catalog_cmd
from runner.cli import finetune as finetune_cmd
from runner.cli import search as search_cmd
from runner.cli import studies as studies_cmd
from runner.cli import ui as ui_cmd
from runner.cli import use as use_cmd
from runner.errors import RunnerError

app = typer.Typer(
    name="runner",
    help="Transfer learning on small image datasets: cached backbone features, an Optuna head search, MLflow.\n\n"
    "Examples:\n\n"
    "  runner search --trials 30 --weights none      # demo digits, offline\n\n"
    "  runner search --data train/ --backbone mobilenet_v2_035 --trials 30\n\n"
    "  runner ui                                     # browse every trial in MLflow",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", help="Show the libraries' own log lines and warnings.")] = False,
) -> None:
    """Transfer learning on small image datasets: cached backbone features, an Optuna head search, MLflow."""
    quiet.install(verbose or os.environ.get("RUNNER_VERBOSE") == "1")


app.command("search", epilog=search_cmd.EXAMPLES)(search_cmd.search)
app.command("finetune", epilog=finetune_cmd.EXAMPLES)(finetune_cmd.finetune)
app.command("predict", epilog=use_cmd.PREDICT_EXAMPLES)(use_cmd.predict)
app.command("evaluate", epilog=use_cmd.EVALUATE_EXAMPLES)(use_cmd.evaluate)
app.command("export", epilog=use_cmd.EXPORT_EXAMPLES)(use_cmd.export)
app.command("audit", epilog=audit_cmd.EXAMPLES)(audit_cmd.audit)
app.command("ui", epilog=ui_cmd.EXAMPLES)(ui_cmd.ui)
app.add_typer(cache_cmd.app, name="cache")
app.add_typer(catalog_cmd.backbones_app, name="backbones")
app.add_typer(catalog_cmd.heads_app, name="heads")
app.add_typer(studies_cmd.app, name="studies")


def main() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        app()
    except RunnerError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished trials are kept; continue with --resume", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
