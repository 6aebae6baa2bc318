"""Which remote URLs a query or update may make this server call (the SSRF guard).

``SERVICE <url>`` in a query and ``LOAD <url>`` in an update make the server
itself send an HTTP request; over the public endpoints that turns it into a
proxy towards any host it can reach (internal services, cloud metadata, the
loopback interface).  So before a request text reaches a store or the
federation engine, this module finds every remote target it names, wherever it
sits (OPTIONAL, UNION, MINUS, GRAPH, subqueries, EXISTS, nested SERVICE, every
operation of an update), with the same rdflib parse tree the planner uses, and
refuses with ``TargetForbidden`` (403) any target ``OutboundPolicy`` does not
allow (see ``eokg.config.OutboundSettings`` for the rules).  ``SERVICE ?var``
cannot be checked before it runs and is refused outright.

URLs are compared on parsed parts, never as raw strings, and only in a strict
ASCII form (no user info, backslashes, fragments or dot segments) so that this
module and the HTTP client that later sends the request cannot disagree about
which host a URL names.

``refuse_cross_origin_redirect`` is the httpx response hook the federation
engine and the remote store use: a redirect is followed only within the origin
of the request, so an allowed endpoint cannot bounce a request elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from eokg.errors import QueryError, SourceUnavailable, TargetForbidden

#: Texts that cannot name a remote target skip the parse (``\\u`` escapes could spell one).
_MAY_NAME_SERVICE = re.compile(r"service|\\[uU]", re.IGNORECASE)
_MAY_NAME_REMOTE = re.compile(r"service|load|\\[uU]", re.IGNORECASE)
_PCHARS = r"A-Za-z0-9\-._~!$&'()*+,;=:@%"
_STRICT_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://"
    r"(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
    rf"(?P<path>/[{_PCHARS}/]*)?"
    rf"(?:\?(?P<query>[{_PCHARS}/?]*))?",
    re.ASCII,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
SETTING = "outbound.allowed_urls"


class Url(NamedTuple):
    """An ``http(s)`` URL split into the parts that decide where a request goes."""

    scheme: str
    host: str
    port: int
    path: str
    query: str | None

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def parse_url(url: str) -> Url | None:
    """``url``'s parts, or None unless it is a plain ASCII ``http``/``https`` URL.

    None too for anything two URL parsers might read differently: user info,
    backslashes, whitespace, fragments, ``.``/``..`` segments (also
    percent-encoded), an out-of-range port.
    """
    match = _STRICT_URL.fullmatch(url)
    if match is None:
        return None
    scheme = match["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        return None
    path = match["path"] or "/"
    if "%2e" in path.lower() or any(seg in (".", "..") for seg in path.split("/")):
        return None
    host = match["host"].lower()
    if host.startswith(".") or host.endswith(".") or ".." in host:
        return None
    return Url(scheme, host, port, path, match["query"])


def url_matches(entry: str, url: str) -> bool:
    """Does allowlist ``entry`` (a URL prefix, see ``OutboundSettings``) allow ``url``?"""
    allowed, target = parse_url(entry), parse_url(url)
    if allowed is None or target is None or allowed.origin != target.origin:
        return False
    if allowed.query is not None:
        return target.path == allowed.path and target.query == allowed.query
    if target.path == allowed.path:
        return True
    prefix = allowed.path if allowed.path.endswith("/") else allowed.path + "/"
    return target.path.startswith(prefix)


def same_url(a: str, b: str) -> bool:
    """The same endpoint, up to case of scheme and host and an explicit default port."""
    if a == b:
        return True
    left, right = parse_url(a), parse_url(b)
    return left is not None and left == right


# ---------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Targets:
    """The remote targets a request text names, in text order."""

    services: tuple[str, ...] = ()
    service_variables: tuple[str, ...] = ()
    loads: tuple[str, ...] = ()


@dataclass
class _Found:
    services: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)

    def frozen(self) -> Targets:
        return Targets(tuple(self.services), tuple(self.variables), tuple(self.loads))


def query_targets(text: str) -> Targets:
    """Every SERVICE of query ``text``; a text that does not parse raises ``QueryError``."""
    if not _MAY_NAME_SERVICE.search(text):
        return Targets()
    from eokg.kg.sparql_syntax import parse_query

    tree = parse_query(text)
    found = _Found()
    _walk(tree.query, tree.prologue, found)
    return found.frozen()


def update_targets(text: str) -> Targets:
    """Every SERVICE and LOAD source of update ``text`` (all its operations).

    rdflib reads fewer updates than Oxigraph does; when it cannot read this one
    and the text has a SERVICE or LOAD keyword (or a ``\\u`` escape that might
    spell one), the targets cannot be checked and the update is refused
    (``QueryError``); any other update has no remote target.
    """
    if not _MAY_NAME_REMOTE.search(text):
        return Targets()
    import pyparsing
    from rdflib.plugins.sparql.parser import parseUpdate

    from eokg.kg.sparql_syntax import Prologue, _parse_lock, check_limits

    check_limits(text, where="update")
    try:
        with _parse_lock:
            parsed = parseUpdate(text)
    except Exception as exc:  # pyparsing's ParseException, RecursionError, rdflib's own
        if _names_remote_keyword(text):
            detail = exc.msg if isinstance(exc, pyparsing.ParseException) else str(exc)
            raise QueryError(
                f"cannot check the SERVICE/LOAD targets of this update: {detail}",
                where="update",
            ) from None
        return Targets()
    prologue = Prologue()
    found = _Found()
    prologues = list(dict.get(parsed, "prologue") or [])
    for position, request in enumerate(dict.get(parsed, "request") or []):
        for decl in prologues[position] if position < len(prologues) else []:
            if decl.name == "Base":
                prologue.base = prologue.absolute(str(decl["iri"]))
            elif decl.name == "PrefixDecl":
                name = dict.get(decl, "prefix") or ""
                prologue.prefixes[name] = prologue.absolute(str(decl["iri"]))
        _walk(request, prologue, found)
    return found.frozen()


def _names_remote_keyword(text: str) -> bool:
    from eokg.kg.sparql_text import tokenize

    if re.search(r"\\[uU]", text):
        return True
    return any(t.kind == "word" and t.text.upper() in ("SERVICE", "LOAD") for t in tokenize(text))


def _walk(node: Any, prologue: Any, found: _Found) -> None:
    import pyparsing
    from rdflib import Variable
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        if node.name == "ServiceGraphPattern":
            term = dict.get(node, "term")
            if isinstance(term, Variable):
                found.variables.append(f"?{term}")
            else:
                found.services.append(prologue.resolve(term))
        elif node.name == "Load":
            found.loads.append(prologue.resolve(dict.get(node, "iri")))
        for key, value in node.items():
            if key != "_vars":
                _walk(value, prologue, found)
    elif isinstance(node, list | pyparsing.ParseResults):
        for value in node:
            _walk(value, prologue, found)


# ---------------------------------------------------------------------- policy


@dataclass(frozen=True)
class OutboundPolicy:
    """What SERVICE and LOAD may reach (``eokg.config.OutboundSettings``).

    ``source_urls`` are the configured federation sources (exact URLs);
    ``unrestricted`` is for the local CLI user, who may reach anything.
    """

    allowed_urls: tuple[str, ...] = ()
    source_urls: tuple[str, ...] = ()
    anonymous_service: bool = False
    unrestricted: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> OutboundPolicy:
        """From full ``Settings`` (``outbound`` and ``federation.sources``)."""
        outbound = getattr(settings, "outbound", None)
        federation = getattr(settings, "federation", None)
        return cls(
            allowed_urls=tuple(outbound.allowed_urls) if outbound is not None else (),
            source_urls=tuple(s.url for s in federation.sources) if federation else (),
            anonymous_service=bool(outbound.anonymous_service) if outbound else False,
        )

    def allows_service(self, url: str) -> bool:
        """May SERVICE reach ``url`` (a configured source or allowlisted)?"""
        if self.unrestricted:
            return True
        return any(same_url(url, s) for s in self.source_urls) or self.allowlisted(url)

    def allowlisted(self, url: str) -> bool:
        return self.unrestricted or any(url_matches(entry, url) for entry in self.allowed_urls)

    def check_services(
        self,
        targets: Targets,
        *,
        authenticated: bool,
        free: Iterable[str] = (),
    ) -> None:
        """Refuse the first SERVICE target this caller may not use.

        ``free`` names targets anyone may use (the federation endpoint's own
        members: naming one sends nothing new anywhere).
        """
        if self.unrestricted:
            return
        if targets.service_variables:
            variable = targets.service_variables[0]
            raise TargetForbidden(
                f"SERVICE {variable}: a SERVICE endpoint must be an IRI over HTTP, "
                "so that it can be checked before the query runs",
                where=f"SERVICE {variable}",
            )
        free_names = list(free)
        for url in targets.services:
            if any(same_url(url, name) for name in free_names):
                continue
            if not self.allows_service(url):
                raise TargetForbidden(
                    f"SERVICE <{url}> is not allowed: it is neither a configured federation "
                    f"source nor in {SETTING}",
                    where=f"SERVICE <{url}>",
                    url=url,
                )
            if not authenticated and not self.anonymous_service:
                raise TargetForbidden(
                    f"SERVICE <{url}> needs the API key: SERVICE is off for anonymous "
                    "callers (outbound.anonymous_service)",
                    where=f"SERVICE <{url}>",
                    url=url,
                )

    def check_query(self, text: str, *, authenticated: bool, free: Iterable[str] = ()) -> None:
        """Parse query ``text`` (if it may name a SERVICE) and refuse what is not allowed."""
        if self.unrestricted:
            return
        self.check_services(query_targets(text), authenticated=authenticated, free=free)

    def check_update(self, text: str, *, authenticated: bool) -> None:
        """Refuse SERVICE and LOAD targets of update ``text`` this caller may not reach."""
        if self.unrestricted:
            return
        targets = update_targets(text)
        for url in targets.loads:
            if parse_url(url) is None:
                raise TargetForbidden(
                    f"LOAD <{url}> is not allowed: LOAD reads only http(s) URLs in {SETTING}",
                    where=f"LOAD <{url}>",
                    url=url,
                )
            if not self.allowlisted(url):
                raise TargetForbidden(
                    f"LOAD <{url}> is not allowed: the URL is not in {SETTING}",
                    where=f"LOAD <{url}>",
                    url=url,
                )
        self.check_services(targets, authenticated=authenticated)


UNRESTRICTED = OutboundPolicy(unrestricted=True)


# ---------------------------------------------------------------------- redirects


def refuse_cross_origin_redirect(response: Any) -> None:
    """httpx response hook: a redirect to another origin raises ``SourceUnavailable``.

    Same-origin redirects (``/sparql`` -> ``/sparql/``) are still followed when
    the client follows redirects at all.
    """
    if not response.has_redirect_location:
        return
    current = response.request.url
    target = current.join(response.headers["location"])
    if _origin(current) != _origin(target):
        raise SourceUnavailable(
            f"the endpoint redirected to {target}, another origin; redirects are followed "
            "only within the same scheme, host and port (configure the final URL)",
            where=str(current),
            url=str(current),
            redirect=str(target),
        )


async def refuse_cross_origin_redirect_async(response: Any) -> None:
    """``refuse_cross_origin_redirect`` for ``httpx.AsyncClient``."""
    refuse_cross_origin_redirect(response)


def _origin(url: Any) -> tuple[str, str, int | None]:
    scheme = str(url.scheme).lower()
    return scheme, str(url.host).lower(), url.port or _DEFAULT_PORTS.get(scheme)
