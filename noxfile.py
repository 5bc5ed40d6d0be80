"""Developer sessions: ``nox -s tests lint typecheck demo benchmarks``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[lint,fastapi]")  # the integrations import FastAPI/Starlette
    session.run("mypy")


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    session.install("-e", ".[demo]")
    session.run("python", "-m", "sr_sec_async", "demo", *session.posargs)


@nox.session(python="3.11")
def benchmarks(session: nox.Session) -> None:
    """Every scenario side by side; ``nox -s benchmarks -- --quick --json out.json``."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)
