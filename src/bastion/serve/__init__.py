"""The serving gateway: a prediction API that resists extraction and abuse.

- :mod:`bastion.serve.app`: the FastAPI application (``create_app``), run by ``bastion serve``;
- :mod:`bastion.serve.keys`: API keys (random, stored as salted HMACs) and log redaction;
- :mod:`bastion.serve.store`: the store interface; :mod:`bastion.serve.sqlite`: its SQLite
  implementation (keys, quotas, rate buckets, alerts, the audit log);
- :mod:`bastion.serve.commit`: group commit of the audit log;
- :mod:`bastion.serve.ratelimit`, :mod:`bastion.serve.policies`, :mod:`bastion.serve.payload`,
  :mod:`bastion.serve.metrics`.

Only :mod:`bastion.serve.app` and :mod:`bastion.serve.metrics` import the ``serve`` extra
(FastAPI, prometheus-client); the store and the keys work without it (``bastion keys``).
"""

from bastion.serve.policies import apply_policy, parse_policy
from bastion.serve.sqlite import SQLiteStore
from bastion.serve.store import Store, StoreUnavailableError

__all__ = ["SQLiteStore", "Store", "StoreUnavailableError", "apply_policy", "parse_policy"]
