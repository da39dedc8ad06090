"""The built-in sections of an assessment, one module per threat family.

Importing this package registers them (see :mod:`bastion.assess.registry`). A new family
adds its module here: it calls ``register_section`` and decorates its cell functions with
``cell_function``.
"""

from bastion.assess.sections import duplication, evasion, gateway, model_file, poisoning

__all__ = ["duplication", "evasion", "gateway", "model_file", "poisoning"]
