"""`extranet-bridge bench cli`: start-up time of `extranet-bridge --help` against `import typer`.

Both run as fresh subprocesses of this interpreter, alternating, several times; the medians and their
ratio are printed (target: the help within 2 × the bare typer import, issue 11).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Annotated

import typer

COMMANDS = {
    "python -c 'import typer'": [sys.executable, "-c", "import typer"],
    "extranet-bridge --help": [sys.executable, "-c", "from cli.main import run; run(['--help'])"],
}


def _once(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def cli(
    repeat: Annotated[int, typer.Option(min=3, max=200, help="Runs of each command (alternating).")] = 11,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """Median wall time of `extranet-bridge --help` and of `python -c "import typer"`, and their ratio."""
    for argv in COMMANDS.values():  # warm the file cache so the first sample is not an outlier
        _once(argv)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeat):
        for name, argv in COMMANDS.items():
            samples[name].append(_once(argv))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    typer_s, help_s = medians["python -c 'import typer'"], medians["extranet-bridge --help"]
    ratio = round(help_s / typer_s, 2)
    result = {
        "repeat": repeat,
        "median_seconds": {k: round(v, 4) for k, v in medians.items()},
        "ratio": ratio,
        "target_ratio": 2.0,
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    for name, value in medians.items():
        typer.echo(f"{name:28} median {value * 1000:7.1f} ms over {repeat} runs")
    typer.echo(f"ratio {ratio} ({'within' if ratio <= 2.0 else 'OVER'} the 2.0 target)")


def register(group: typer.Typer) -> None:
    group.command("cli")(cli)
