"""Dataset declarations (``datasets:`` in conf/<env>/parameters_datasets.yml), read outside a Kedro run.

The pipeline registry needs them before any node runs, to instantiate every stage per dataset. The
Kedro environment of the current session is recorded by ``matshift.hooks`` when the context is
created; outside a session ``KEDRO_ENV`` (default ``local``) decides.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_active_env: dict[str, str | None] = {"env": None, "conf_source": None}


def remember_environment(env: str | None, conf_source: str | None) -> None:
    _active_env.update(env=env, conf_source=conf_source)


def load_declarations(conf_source: str | None = None, env: str | None = None) -> dict[str, dict[str, Any]]:
    """The merged ``datasets`` parameter of base + env."""
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import settings

    conf_source = conf_source or _active_env["conf_source"] or str(Path.cwd() / settings.CONF_SOURCE)
    env = env or _active_env["env"] or os.environ.get("KEDRO_ENV") or "local"
    loader_args = {**settings.CONFIG_LOADER_ARGS, "default_run_env": env}
    loader = OmegaConfigLoader(conf_source=conf_source, **loader_args)
    return dict(loader["parameters"].get("datasets") or {})
