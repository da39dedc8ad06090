"""A model behind a prediction API: the client through which attacks reach a live server.

:class:`RemoteModel` speaks the protocol of ``bastion serve`` (``GET /v1/model``, ``POST
/v1/predict``) over HTTP with :mod:`httpx` (the ``serve`` extra). It is an ordinary black-box
bastion Model, so every black-box attack (SquareAttack, HopSkipJump, KnockoffNets,
JacobianAugmentation, EquationSolving, the membership attacks) runs against the server
unchanged. Its capabilities are what the key's output policy allows: a label-only key gives
a model with ``"labels"`` only, and score-based attacks refuse it with a
:class:`~bastion.exceptions.CapabilityError` before sending a single query.

Server answers map onto bastion errors: 401/403 :class:`~bastion.exceptions.AccessDeniedError`,
an exhausted quota :class:`~bastion.exceptions.BudgetExceededError` (the server stopped the
attacker), 413/422 :class:`~bastion.exceptions.ValidationError`; 429 (rate) and 503 are
retried after the ``Retry-After`` the server sent (exponential back-off without one), then
:class:`~bastion.exceptions.RemoteError`.
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np

from bastion.exceptions import AccessDeniedError, BudgetExceededError, RemoteError, ValidationError
from bastion.models.base import (
    LABELS,
    SCORES,
    BaseModel,
    check_answer,
    check_answer_labels,
)
from bastion.validation import check_scalar

RETRIED = (429, 503)
QUOTA_EXHAUSTED = "quota_exhausted"


class RemoteModel(BaseModel):
    """A bastion Model answered by a ``bastion serve`` gateway over HTTP.

    Args:
        url: the server's base URL, e.g. ``"http://127.0.0.1:8000"``.
        api_key: the key, sent only in the ``Authorization: Bearer`` header (never logged,
            never in ``repr``).
        batch_size: inputs per request (the server refuses more than its ``max_batch``).
        timeout: seconds to wait for one answer.
        retries: attempts after the first on 429 (rate), 503 or a connection error.
        backoff: the first wait in seconds without ``Retry-After``; doubles each attempt.
        max_wait: the longest single wait in seconds, even if the server asks for more.

    Raises:
        AccessDeniedError: the server refused the key.
        RemoteError: the server cannot be reached or does not speak the protocol.

    Example:
        >>> target = RemoteModel("http://127.0.0.1:8000", os.environ["BASTION_KEY"])
        >>> SquareAttack(eps=0.1).generate(target, x_test[:10], y_test[:10])
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        batch_size: int = 256,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.25,
        max_wait: float = 60.0,
    ) -> None:
        super().__init__()
        try:
            import httpx
        except ImportError as error:
            raise RemoteError('RemoteModel needs httpx, in the serve extra: pip install "bastion[serve]"') from error
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError(f"`url` must be an http:// or https:// URL, got {url!r}")
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValidationError("`api_key` must be a non-empty string (the key printed by `bastion keys create`)")
        self.url = url.rstrip("/")
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        self.timeout = check_scalar(timeout, "timeout", low=0.0, include_low=False)
        self.retries = check_scalar(retries, "retries", kind=int, low=0)
        self.backoff = check_scalar(backoff, "backoff", low=0.0)
        self.max_wait = check_scalar(max_wait, "max_wait", low=0.0)
        self._httpx = httpx
        self._client = httpx.Client(
            base_url=self.url, timeout=self.timeout, headers={"Authorization": f"Bearer {api_key.strip()}"}
        )
        info = check_description(self.describe(), f"{self.url}/v1/model")
        self.input_shape = tuple(info["input_shape"])
        self.n_classes = info["n_classes"]
        self.clip = tuple(info["clip"])
        self.policy = info["policy"]
        self.capabilities = frozenset(info["capabilities"]) & {LABELS, SCORES}
        self.batch_size = min(self.batch_size, info.get("max_batch") or self.batch_size)

    def describe(self) -> dict[str, Any]:
        """The server's ``GET /v1/model``: shapes, classes, range, this key's policy and quota.

        Raises:
            RemoteError: the answer is not a JSON object.
        """
        response = self._request("GET", "/v1/model")
        try:
            info = response.json()
        except ValueError as error:
            raise RemoteError(f"{self.url}/v1/model did not answer JSON: {response.text[:200]!r}") from error
        if not isinstance(info, dict):
            raise RemoteError(f"{self.url}/v1/model must answer a JSON object, got {str(info)[:200]}")
        return info

    @property
    def remaining_quota(self) -> int | None:
        """Inputs the server will still answer for this key (``None``: no quota)."""
        return check_description(self.describe(), f"{self.url}/v1/model")["remaining_quota"]

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __enter__(self) -> RemoteModel:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The server's labels, ``(n,)`` int64; counts ``n`` queries."""
        x = self.check_x(x)
        labels = []
        for i in range(0, len(x), self.batch_size):
            batch = x[i : i + self.batch_size]
            answer = self._predict(batch)
            labels.append(check_answer_labels(_field(answer, "labels"), len(batch), self.n_classes, repr(self)))
            # Count per answered batch: a batch refused by the quota was not answered.
            self._count(len(labels[-1]))
        return np.concatenate(labels)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The server's scores, ``(n, n_classes)`` float32 (needs a key whose policy shows them)."""
        if SCORES not in self.capabilities:
            return super().predict_proba(x)
        x = self.check_x(x)
        scores = []
        for i in range(0, len(x), self.batch_size):
            batch = x[i : i + self.batch_size]
            answer = _field(self._predict(batch), "scores")
            # The server's policy may round or drop confidences: scores in [0, 1], not distributions.
            scores.append(check_answer(answer, len(batch), self.n_classes, repr(self), kind="scores"))
            self._count(len(scores[-1]))
        return np.concatenate(scores)

    def _predict(self, batch: np.ndarray) -> dict[str, Any]:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(batch, dtype=np.float32), allow_pickle=False)
        return self._request(
            "POST", "/v1/predict", content=buffer.getvalue(), headers={"Content-Type": "application/x-npy"}
        ).json()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            last = attempt >= self.retries
            try:
                response = self._client.request(method, path, **kwargs)
            except self._httpx.HTTPError as error:
                if last:
                    raise RemoteError(f"{self.url}{path}: {type(error).__name__}: {error}") from error
                time.sleep(min(self.max_wait, self.backoff * 2**attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            detail, code = _detail(response)
            if response.status_code == 429 and code == QUOTA_EXHAUSTED:
                raise BudgetExceededError(f"{self.url} stopped answering this key: {detail}")
            if response.status_code in RETRIED and not last:
                time.sleep(self._wait(response, attempt))
                attempt += 1
                continue
            if response.status_code in (401, 403):
                raise AccessDeniedError(f"{self.url} refused the key ({response.status_code}): {detail}")
            if response.status_code in (413, 415, 422):
                raise ValidationError(f"{self.url} refused the inputs ({response.status_code}): {detail}")
            raise RemoteError(f"{self.url}{path} answered {response.status_code}: {detail}")

    def _wait(self, response: Any, attempt: int) -> float:
        header = response.headers.get("retry-after", "")
        try:
            wanted = float(header)
        except ValueError:
            wanted = self.backoff * 2**attempt
        return max(0.0, min(self.max_wait, wanted))

    def __copy__(self) -> RemoteModel:
        # A copy shares the connection pool and key but counts its own queries (fidelity
        # checks query a copy); the server still sees, and charges, every query.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._queries = 0
        return clone

    def __repr__(self) -> str:
        return f"RemoteModel({self.url!r}, policy={self.policy!r})"


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def check_description(info: dict[str, Any], where: str) -> dict[str, Any]:
    """Check a ``GET /v1/model`` answer field by field; return it.

    A server that is not a bastion gateway, or a broken one, must not give a model with a
    negative shape or a reversed range that every attack would then trip over.

    Raises:
        RemoteError: a field is missing or of the wrong type or range; the message names it,
            what it must be and what the server sent.
    """
    rules = {
        "input_shape": (
            "a non-empty list of positive ints",
            lambda v: isinstance(v, list) and len(v) > 0 and all(_is_int(s, 1) for s in v),
        ),
        "n_classes": ("an int >= 2", lambda v: _is_int(v, 2)),
        "clip": (
            "a [low, high] pair of finite numbers with low < high",
            lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_number, v)) and v[0] < v[1],
        ),
        "policy": ("a non-empty string", lambda v: isinstance(v, str) and bool(v)),
        "capabilities": (
            f"a list of strings holding {LABELS!r} or {SCORES!r}",
            lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v) and bool({LABELS, SCORES} & set(v)),
        ),
        "remaining_quota": ("null or an int >= 0", lambda v: v is None or _is_int(v, 0)),
    }
    optional = {"max_batch": ("an int >= 1", lambda v: v is None or _is_int(v, 1))}
    for name, (expected, valid) in {**rules, **optional}.items():
        if name not in info:
            if name in optional:
                continue
            raise RemoteError(f"{where} answered without `{name}` ({expected}); is this a bastion gateway?")
        if not valid(info[name]):
            raise RemoteError(f"{where} answered an invalid `{name}`: expected {expected}, got {info[name]!r:.200}")
    return info


def _field(answer: Any, key: str) -> Any:
    if not isinstance(answer, dict) or key not in answer:
        raise RemoteError(f"the server's answer lacks {key!r}: {str(answer)[:200]}")
    return answer[key]


def _detail(response: Any) -> tuple[str, str]:
    try:
        body = response.json()
        return str(body.get("detail", body)), str(body.get("error", ""))
    except ValueError:
        return response.text[:200], ""
