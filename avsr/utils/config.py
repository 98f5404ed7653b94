"""YAML configs under conf/."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import yaml

from avsr.utils.errors import AvsrInputError


def load_yaml(path: Union[str, Path]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise AvsrInputError(path, "config file not found") from None
    except yaml.YAMLError as err:
        raise AvsrInputError(path, f"malformed YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise AvsrInputError(path, "config must be a YAML mapping")
    return data
