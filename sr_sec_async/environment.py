"""Environment fields from the process environment, by the fallback chains of
the reference README ("Auto-Extracted Fields"), highest first, extended with
the variables AWS Lambda, ECS (AWS Copilot), EKS (IRSA) and OpenTelemetry set:

=====================  =========================================================
field                  chain (first non-blank wins)
=====================  =========================================================
cloud_env_type         CLOUD_ENV_TYPE → NEXT_PUBLIC_ENVIRONMENT_NAME → NODE_ENV →
                       VERCEL_ENV → COPILOT_ENVIRONMENT_NAME → an environment word
                       in AWS_LAMBDA_FUNCTION_NAME (``orders-prod`` → ``prod``)
cloud_env_name         CLOUD_ENV_NAME → NEXT_PUBLIC_ENVIRONMENT_NAME → VERCEL_ENV →
                       NODE_ENV → COPILOT_ENVIRONMENT_NAME
cloud_env_unique_id    CLOUD_ENV_UNIQUE_ID → AWS_ACCOUNT_ID → the account of the
                       first ARN among AWS_EXECUTION_ROLE_ARN,
                       AWS_LAMBDA_FUNCTION_ARN, AWS_ROLE_ARN, ROLE_ARN
service_name           SERVICE_NAME → NEXT_PUBLIC_APP_NAME → OTEL_SERVICE_NAME →
                       AWS_LAMBDA_FUNCTION_NAME (environment word removed) →
                       COPILOT_SERVICE_NAME → npm_package_name
service_account_id     SERVICE_ACCOUNT_ID → AWS_EXECUTION_ROLE_ARN → AWS_ROLE_ARN →
                       ROLE_ARN
=====================  =========================================================

The reference's last service-account fallback (an "IAM user pattern" built
from ``AWS_ACCESS_KEY_ID``) is deliberately not implemented: credential
material does not belong in security events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["ENVIRONMENT_CHAINS", "environment_fields", "normalize_env_type"]

_ENV_TYPE_WORDS = {
    "prod": "prod",
    "production": "prod",
    "prd": "prod",
    "live": "prod",
    "stage": "stage",
    "staging": "stage",
    "stg": "stage",
    "preview": "stage",
    "uat": "stage",
    "test": "test",
    "testing": "test",
    "qa": "test",
    "dev": "dev",
    "development": "dev",
    "local": "dev",
    "sandbox": "dev",
}

_ARN_ACCOUNT = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
_LAMBDA_ENV_TOKEN = re.compile(
    r"(?:^|[-_])(prod|production|prd|stage|staging|stg|test|qa|dev|development)(?:$|[-_])", re.I
)


def normalize_env_type(value: str) -> str:
    """Map common spellings (``production``, ``staging`` …) onto ``CloudEnvType``
    values; anything unknown is returned unchanged so validation can name it."""
    return _ENV_TYPE_WORDS.get(value.strip().lower(), value)


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def _env_type(environ: Mapping[str, str]) -> str | None:
    value = _first(
        environ,
        "CLOUD_ENV_TYPE",
        "NEXT_PUBLIC_ENVIRONMENT_NAME",
        "NODE_ENV",
        "VERCEL_ENV",
        "COPILOT_ENVIRONMENT_NAME",
    )
    if value:
        return normalize_env_type(value)
    fn = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    match = _LAMBDA_ENV_TOKEN.search(fn)
    return normalize_env_type(match.group(1)) if match else None


def _env_name(environ: Mapping[str, str]) -> str | None:
    return _first(
        environ,
        "CLOUD_ENV_NAME",
        "NEXT_PUBLIC_ENVIRONMENT_NAME",
        "VERCEL_ENV",
        "NODE_ENV",
        "COPILOT_ENVIRONMENT_NAME",
    )


def _unique_id(environ: Mapping[str, str]) -> str | None:
    value = _first(environ, "CLOUD_ENV_UNIQUE_ID", "AWS_ACCOUNT_ID")
    if value:
        return value
    for name in ("AWS_EXECUTION_ROLE_ARN", "AWS_LAMBDA_FUNCTION_ARN", "AWS_ROLE_ARN", "ROLE_ARN"):
        match = _ARN_ACCOUNT.match(environ.get(name, ""))
        if match:
            return match.group(1)
    return None


def _service_name(environ: Mapping[str, str]) -> str | None:
    value = _first(environ, "SERVICE_NAME", "NEXT_PUBLIC_APP_NAME", "OTEL_SERVICE_NAME")
    if value:
        return value
    fn = environ.get("AWS_LAMBDA_FUNCTION_NAME", "").strip()
    if fn:
        cleaned = _LAMBDA_ENV_TOKEN.sub("-", fn).strip("-_")
        return cleaned or fn
    return _first(environ, "COPILOT_SERVICE_NAME", "npm_package_name")


def _service_account(environ: Mapping[str, str]) -> str | None:
    return _first(
        environ, "SERVICE_ACCOUNT_ID", "AWS_EXECUTION_ROLE_ARN", "AWS_ROLE_ARN", "ROLE_ARN"
    )


#: field → (function reading the environment, variables a user can set, description)
ENVIRONMENT_CHAINS: dict[str, tuple[Callable[[Mapping[str, str]], str | None], str, str]] = {
    "cloud_env_type": (
        _env_type,
        "CLOUD_ENV_TYPE or NEXT_PUBLIC_ENVIRONMENT_NAME",
        "Environment type (prod, stage, test, dev)",
    ),
    "cloud_env_unique_id": (
        _unique_id,
        "CLOUD_ENV_UNIQUE_ID or AWS_ACCOUNT_ID",
        "Cloud account or project id",
    ),
    "cloud_env_name": (_env_name, "CLOUD_ENV_NAME", "Human-readable environment name"),
    "service_account_id": (
        _service_account,
        "SERVICE_ACCOUNT_ID or AWS_EXECUTION_ROLE_ARN",
        "IAM role or service account the code runs as",
    ),
    "service_name": (_service_name, "SERVICE_NAME", "Application/service name"),
}


def environment_fields(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment fields the process environment provides (absent ones omitted)."""
    found = {}
    for field, (read, _vars, _description) in ENVIRONMENT_CHAINS.items():
        value = read(environ)
        if value:
            found[field] = value
    return found
