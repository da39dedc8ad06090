"""A synthetic web site's access log, with attack campaigns hidden in it.

The site is a small shop (product pages, search, cart, account, blog, a JSON API, static
files, downloads). Clients come back in sessions (one address, user agent and cookie per
client); paths come from a site map whose query strings carry typed parameters (ids, page
numbers, sort keys, search words). Attacks arrive as campaigns, as scanners and attackers
send them: a burst of requests of one family from one address within a minute or two,
each request a fresh payload of that family (:mod:`bastion.data.web_attacks`) injected in
a parameter, the path or a header.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

from bastion.data.access_log import _objects, escape, format_time, request_payload
from bastion.data.traffic import TrafficStream
from bastion.data.web_attacks import ATTACK_KINDS, FAMILIES, shellshock
from bastion.exceptions import InputTypeError, ValidationError
from bastion.validation import check_scalar, check_seed

HOST = "https://shop.example.com"
_CATEGORIES = ("shoes", "shirts", "jackets", "bags", "hats", "socks", "watches", "kids", "sale", "new")
_SORTS = ("price", "name", "rating", "newest", "price_desc")
_REFS = ("home", "search", "category", "related", "email", "ad")
_WORDS = (
    "red", "blue", "black", "white", "leather", "running", "shoes", "shirt", "jacket", "winter", "summer",
    "men", "women", "kids", "sale", "cotton", "wool", "bag", "backpack", "hat", "cap", "watch", "gift",
    "socks", "size", "large", "small", "boots", "sandals", "rain", "coat", "classic", "sport", "slim",
)  # fmt: skip
_SLUGS = ("spring-collection", "how-to-choose-running-shoes", "care-for-leather", "gift-guide", "our-story",
          "sizing-tips", "new-store-opening", "sustainable-cotton", "winter-layers", "behind-the-seams")  # fmt: skip
_FIELDS = ("name,price", "name,price,stock", "id,name", "price", "name,images", "rating,reviews")
_PAGES = ("about", "faq", "terms", "privacy", "shipping", "returns", "careers")
_DOCS = ("catalog-2025", "size-chart", "returns-form", "warranty", "press-kit", "lookbook")
_CARRIERS = ("ups", "dhl", "fedex", "usps")
_AGENTS = (  # real browser and crawler strings, kept whole
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",  # noqa: E501
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",  # noqa: E501
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",  # noqa: E501
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",  # noqa: E501
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",  # noqa: E501
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
_TOOL_AGENTS = (
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)",
    "curl/7.88.1",
    "python-requests/2.31.0",
    "Wget/1.21.3",
    "Go-http-client/1.1",
)
_SITES = {
    "sqli": ("/product/view?id={a}&ref=home", "/products?category={a}&page=1", "/api/v1/items/{a}?fields=name",
             "/search?q={a}", "/account/orders?page={a}", "/track?order={a}&carrier=ups"),
    "xss": ("/search?q={a}", "/search?q=shoes&page={a}", "/contact?name={a}", "/product/view?id=12&ref={a}",
            "/blog/2025/11/gift-guide?comment={a}"),
    "traversal": ("/download?file={a}", "/page?name={a}", "/static/{a}", "/images/resize?img={a}&w=200"),
    "shell": ("/track?order={a}&carrier=dhl", "/images/resize?img={a}&w=200", "/download?file={a}",
              "/api/v1/items/12?fields={a}"),
}  # fmt: skip


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _words(rng: np.random.Generator) -> str:
    return "+".join(_pick(rng, _WORDS) for _ in range(int(rng.integers(1, 4))))


def _normal_path(rng: np.random.Generator) -> tuple[str, str]:
    """``(method, path-and-query)`` of one ordinary request, drawn from the site map."""
    r = rng.random()
    pid = int(rng.integers(1, 2500))
    if r < 0.16:
        kind = _pick(rng, ("css/main.css", "css/theme.css", "js/app.js", "js/vendor.js", "js/cart.js"))
        return "GET", f"/static/{kind}?v={int(rng.integers(1, 9))}"
    if r < 0.28:
        return "GET", f"/images/products/{pid}.jpg"
    if r < 0.38:
        return "GET", f"/product/view?id={pid}&ref={_pick(rng, _REFS)}"
    if r < 0.46:
        return (
            "GET",
            f"/products?category={_pick(rng, _CATEGORIES)}&page={int(rng.integers(1, 20))}&sort={_pick(rng, _SORTS)}",
        )
    if r < 0.53:
        return "GET", f"/search?q={_words(rng)}&page={int(rng.integers(1, 6))}"
    if r < 0.59:
        return "GET", f"/api/v1/items/{pid}?fields={_pick(rng, _FIELDS)}"
    if r < 0.63:
        return "POST", f"/cart/add?item={pid}&qty={int(rng.integers(1, 5))}"
    if r < 0.66:
        return "GET", "/cart"
    if r < 0.72:
        return "GET", _pick(rng, ("/", "/", "/", "/index.html", "/favicon.ico", "/robots.txt", "/feed.xml"))
    if r < 0.76:
        return "GET", f"/blog/{int(rng.integers(2021, 2026))}/{int(rng.integers(1, 13)):02d}/{_pick(rng, _SLUGS)}"
    if r < 0.79:
        return _pick(rng, ("GET", "POST")), "/account/login?next=/account/orders"
    if r < 0.82:
        return "GET", f"/account/orders?page={int(rng.integers(1, 5))}"
    if r < 0.86:
        return "GET", f"/page?name={_pick(rng, _PAGES)}"
    if r < 0.89:
        return "GET", f"/download?file={_pick(rng, _DOCS)}.pdf"
    if r < 0.92:
        return "GET", f"/track?order={int(rng.integers(100000, 999999))}&carrier={_pick(rng, _CARRIERS)}"
    if r < 0.96:
        return "GET", f"/images/resize?img={pid}.jpg&w={_pick(rng, ('100', '200', '400', '800'))}"
    return "GET", _pick(rng, ("/about", "/contact", "/sale", "/new-arrivals", "/gift-cards"))


def _referer(rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.4:
        return "-"
    if r < 0.85:
        return HOST + _normal_path(rng)[1]
    return f"https://www.{_pick(rng, ('google.com', 'bing.com', 'duckduckgo.com'))}/search?q={_words(rng)}"


def _start_seconds(start: object) -> float:
    if isinstance(start, bool):
        raise InputTypeError(f"`start` must be a datetime, an ISO 8601 string or POSIX seconds, got {start!r}")
    if isinstance(start, (int, float)):
        return float(check_scalar(start, "start", low=0))
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError as error:
            raise ValidationError(
                f"`start` must be an ISO 8601 time such as '2026-01-05T00:00:00', got {start!r}"
            ) from error
    if isinstance(start, datetime):
        return (start if start.tzinfo else start.replace(tzinfo=timezone.utc)).timestamp()
    raise InputTypeError(f"`start` must be a datetime, an ISO 8601 string or POSIX seconds, got {type(start).__name__}")


def http_traffic(
    n: int,
    *,
    attack_rate: float = 0.01,
    attack_kinds: Sequence[str] = ATTACK_KINDS,
    start: datetime | str | float = "2026-01-05T00:00:00+00:00",
    requests_per_s: float = 1.0,
    campaign_size: int = 20,
    seed: int = 0,
) -> TrafficStream:
    """``n`` requests to one synthetic shop, in time order, with attack campaigns among them.

    Normal requests arrive as a Poisson process of ``requests_per_s``; attacks come in
    campaigns of about ``campaign_size`` requests (a burst from one address, a few seconds
    apart) at uniformly random times. ``round(attack_rate * n)`` of the ``n`` requests are
    attacks, spread over the families of ``attack_kinds`` (see
    :mod:`bastion.data.web_attacks`). Two seeds give streams with the same families but
    different payloads, so a second seed is a held-out ("0-day") test stream.

    Args:
        n: number of requests, at least 1.
        attack_rate: share of attacks, in [0, 1).
        attack_kinds: families among ``"sqli"``, ``"xss"``, ``"traversal"``, ``"shell"``.
        start: time of the first request window (datetime, ISO 8601 string, or POSIX seconds;
            naive times are UTC).
        requests_per_s: mean arrival rate of the requests, in (0, inf).
        campaign_size: mean requests per attack campaign, at least 1.
        seed: seeds every random choice.

    Returns:
        A labelled :class:`~bastion.data.TrafficStream` (``is_attack`` and ``kind`` set).

    Raises:
        ValidationError: a value outside the ranges above, an unknown attack family, or
            attacks requested with no family.
        InputTypeError: ``attack_kinds`` is not a sequence of names.
    """
    n = check_scalar(n, "n", kind=int, low=1)
    attack_rate = check_scalar(attack_rate, "attack_rate", low=0, high=1, include_high=False)
    requests_per_s = check_scalar(requests_per_s, "requests_per_s", low=0, include_low=False)
    campaign_size = check_scalar(campaign_size, "campaign_size", kind=int, low=1)
    seed = check_seed(seed)
    if isinstance(attack_kinds, str) or not isinstance(attack_kinds, Sequence):
        raise InputTypeError(f"`attack_kinds` must be a sequence of family names, got {type(attack_kinds).__name__}")
    unknown = [k for k in attack_kinds if k not in FAMILIES]
    if unknown:
        raise ValidationError(f"`attack_kinds` must be among {', '.join(ATTACK_KINDS)}, got {unknown}")
    n_attacks = round(attack_rate * n)
    if n_attacks and not attack_kinds:
        raise ValidationError(f"`attack_kinds` must name at least one family when attack_rate > 0, got {attack_rate}")
    origin = _start_seconds(start)
    rng = np.random.default_rng(seed)
    duration = n / requests_per_s

    # Arrival times: normal requests uniform over the window, campaigns as short bursts.
    times = np.sort(rng.uniform(0, duration, n - n_attacks))
    kinds = np.full(n - n_attacks, "normal", dtype=object)
    campaign = np.full(n - n_attacks, -1)
    if n_attacks:
        n_campaigns = max(1, math.ceil(n_attacks / campaign_size))
        sizes = rng.multinomial(n_attacks - n_campaigns, np.full(n_campaigns, 1 / n_campaigns)) + 1
        owner = np.repeat(np.arange(n_campaigns), sizes)
        starts = rng.uniform(0, duration, n_campaigns)
        gaps = rng.exponential(4.0, n_attacks)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        offsets = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first] - gaps[first], sizes)
        family = np.asarray(attack_kinds, dtype=object)[rng.integers(len(attack_kinds), size=n_campaigns)]
        times = np.concatenate([times, starts[owner] + offsets])
        kinds = np.concatenate([kinds, family[owner]])
        campaign = np.concatenate([campaign, owner])
    order = np.argsort(times, kind="stable")
    times, kinds, campaign = times[order], kinds[order], campaign[order]

    # Returning clients: address, browser, cookie; attackers: one address and tool per campaign.
    n_clients = max(20, n // 25)
    client_ip = [f"{int(a)}.{int(b)}.{int(c)}.{int(d)}" for a, b, c, d in rng.integers(1, 255, (n_clients, 4))]
    client_agent = [_pick(rng, _AGENTS) for _ in range(n_clients)]
    client_cookie = [
        f"sid={int(rng.integers(2**63)):016x}; lang={_pick(rng, ('en', 'de', 'fr', 'es'))}"
        if rng.random() < 0.7
        else "-"
        for _ in range(n_clients)
    ]
    client_of = np.minimum(rng.zipf(1.3, n) - 1, n_clients - 1)
    n_campaigns = int(campaign.max()) + 1 if n_attacks else 0
    attacker_ip = [f"{int(a)}.{int(b)}.{int(c)}.{int(d)}" for a, b, c, d in rng.integers(1, 255, (n_campaigns, 4))]
    attacker_agent = [
        _pick(rng, _TOOL_AGENTS) if rng.random() < 0.5 else _pick(rng, _AGENTS) for _ in range(n_campaigns)
    ]

    payloads, lines = [], []
    for i in range(n):
        kind = kinds[i]
        if kind == "normal":
            client = int(client_of[i])
            ip, agent, cookie = client_ip[client], client_agent[client], client_cookie[client]
            method, path = _normal_path(rng)
            referer = _referer(rng)
            status = _pick(rng, ("200",) * 14 + ("304", "304", "404", "302"))
        else:
            c = int(campaign[i])
            ip, agent, cookie, referer, method = attacker_ip[c], attacker_agent[c], "-", "-", "GET"
            status = _pick(rng, ("200", "403", "404", "500", "400"))
            if kind == "shell" and rng.random() < 0.25:
                agent = shellshock(rng)
                path = _pick(rng, ("/cgi-bin/status", "/cgi-bin/test.cgi", "/", "/cgi-bin/admin.cgi"))
            elif kind == "xss" and rng.random() < 0.1:
                referer = HOST + "/search?q=" + FAMILIES[kind](rng)
                path = _normal_path(rng)[1]
            else:
                path = _pick(rng, _SITES[kind]).format(a=FAMILIES[kind](rng))
        request = f"{method} {path} HTTP/1.1"
        size = int(rng.lognormal(8, 1.2)) if status != "304" else 0
        payloads.append(request_payload(request, referer, agent, cookie))
        lines.append(
            f'{ip} - - {format_time(origin + times[i])} "{escape(request)}" {status} {size} '
            f'"{escape(referer)}" "{escape(agent)}"' + (f' "{escape(cookie)}"' if cookie != "-" else "")
        )
    return TrafficStream(
        payloads=_objects(payloads),
        timestamps=origin + times,
        lines=_objects(lines),
        is_attack=kinds != "normal",
        kind=kinds.astype(str),
        name=f"http_traffic(n={n}, attack_rate={attack_rate:g}, seed={seed})",
    )
