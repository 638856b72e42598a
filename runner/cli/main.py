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
from runner.cli import gc as gc_cmd
from runner.cli import search as search_cmd
from runner.cli import studies as studies_cmd
from runner.cli import ui as ui_cmd
from runner.cli import use as use_cmd
from runner.errors import RunnerError
from runner.interrupts import Interrupts

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
app.command("gc", epilog=gc_cmd.EXAMPLES)(gc_cmd.gc)
app.add_typer(cache_cmd.app, name="cache")
app.add_typer(catalog_cmd.backbones_app, name="backbones")
app.add_typer(catalog_cmd.heads_app, name="heads")
app.add_typer(studies_cmd.app, name="studies")


def _interrupted() -> str:
    """The one line a Ctrl+C leaves when the command did not say more itself."""
    if sys.argv[1:2] == ["finetune"]:
        return "interrupted: the fine-tuning checkpoint is kept; continue with the same command and --resume"
    if sys.argv[1:2] == ["predict"]:
        return "interrupted: no predictions file was written"
    return "interrupted"


def main() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    interrupts = Interrupts()
    interrupts.install()
    try:
        code = app(standalone_mode=False)  # runner handles errors and Ctrl+C itself, Click does not
    except RunnerError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        code = 130
    except typer.Exit as err:  # typer.Exit(code) raised by a command
        sys.exit(err.exit_code)
    except typer.TyperException as err:  # a usage mistake (unknown option, missing argument): Typer's own message
        show = getattr(err, "show", None)
        if show is not None:
            show()
        else:
            print(f"error: {err}", file=sys.stderr)
        sys.exit(getattr(err, "exit_code", 2))
    if code == 130 and interrupts.pending and not interrupts.reported:  # Typer turns Ctrl+C into Exit(130)
        print(_interrupted(), file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
