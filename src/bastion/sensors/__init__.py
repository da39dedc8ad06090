"""Content anomaly sensors for web traffic: learn normal payloads, score new ones.

- :class:`NGramSensor`: Anagram (Wang et al. 2006), byte n-grams in a Bloom filter;
- :class:`PAYLSensor`: PAYL (Wang & Stolfo 2004), byte frequencies per payload length.

Both are ``fit(payloads)``, ``score(payloads) -> (n,) float``, ``predict(payloads) -> (n,)
bool``. For classification data, :class:`LabelDisagreementSensor` and
:class:`ClassNoveltySensor` are the same idea on labelled samples (``fit(x, y)``,
``predict(x, y)``). :class:`~bastion.defenses.MicroModels` sanitizes their training data.
"""

from bastion.sensors.base import Sensor, check_payloads
from bastion.sensors.class_novelty import ClassNoveltySensor
from bastion.sensors.label_disagreement import LabelDisagreementSensor
from bastion.sensors.ngram import NGramSensor
from bastion.sensors.payl import PAYLSensor

__all__ = ["ClassNoveltySensor", "LabelDisagreementSensor", "NGramSensor", "PAYLSensor", "Sensor", "check_payloads"]
