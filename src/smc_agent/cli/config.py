"""``smc-agent config``: the effective settings, a file checked, and a commented example to start from.

* ``config show`` prints the settings every command would run with (defaults, the file and its
  profile, the environment), secrets masked, with where each key that is not a default came from;
* ``config validate FILE`` checks a file, its profiles included, the way every command reads it;
* ``config init`` writes the example in the package (``smc_agent/config/example.toml``), which validates.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import tomli_w
import typer

from smc_agent.cli.common import ConfigOption, JsonOption, ProfileOption, fail, user_errors
from smc_agent.config.settings import load_settings, read_document

__all__ = ["app", "example_text"]

app = typer.Typer(help="Show, check and start a settings file.", no_args_is_help=True)

DEFAULT_OUT = Path("smc-agent.toml")


def example_text() -> str:
    """The commented example settings file that ``config init`` writes."""
    return files("smc_agent.config").joinpath("example.toml").read_text(encoding="utf-8")


@app.command("show")
def show_command(config: ConfigOption = None, profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    """Print the effective settings (TOML, or JSON with --json), secrets masked as ***."""
    with user_errors():
        settings = load_settings(config, profile=profile)
    document = settings.document(masked=True)
    if as_json:
        typer.echo(json.dumps(_jsonable(document), indent=2))
        return
    origins = settings.origins()
    lines = ["# smc-agent settings in effect; keys not listed here are defaults."]
    lines += [f"# {key}: {source}" for key, source in origins.items()] if origins else ["# (all defaults)"]
    typer.echo("\n".join(lines) + "\n\n" + tomli_w.dumps(document), nl=False)


@app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="The settings file to check (TOML, or YAML for .yaml/.yml).")],
    profile: ProfileOption = None,
) -> None:
    """Check a settings file as the commands read it: exit 0 when valid, 2 with the key and the file otherwise.

    Without --profile, every [profiles.NAME] table is checked too."""
    with user_errors():
        load_settings(file, profile=profile)
        names = [profile] if profile else sorted(_profiles(file))
        for name in names:
            load_settings(file, profile=name)
    checked = f" (profiles: {', '.join(names)})" if names else ""
    typer.echo(f"{file}: valid{checked}")


@app.command("init")
def init_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write the example.")] = DEFAULT_OUT,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file if it exists.")] = False,
) -> None:
    """Write a commented example settings file (it validates); refuses to overwrite without --force."""
    if out.exists() and not force:
        fail(f"{out}: already exists; give --force to overwrite it")
    try:
        out.write_text(example_text(), encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write the settings file: {exc.strerror}")
    typer.echo(f"wrote {out}; check it with: smc-agent config validate {out}")


def _profiles(file: Path) -> list[str]:
    profiles = read_document(file).get("profiles", {})
    return [str(name) for name in profiles] if isinstance(profiles, dict) else []


def _jsonable(value: Any) -> Any:
    """JSON's types: decimals as numbers (the TOML document's own types otherwise)."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) >= 1 else float(value)
    return value
