"""Geometry functions of a mapping as Apache Sedona SQL, for :mod:`eokg.spark.sql_compile`.

The shapely functions in :mod:`eokg.spark.functions` stay the reference; each
entry of :data:`SEDONA_FUNCTIONS` gives the same literal from JTS in the JVM:

* geometries are parsed only where ``Constructors.geomFromWKT`` succeeds
  (checked with ``try_reflect``, which answers null instead of failing the
  task), so an unparseable WKT rejects its record as on the shapely path;
* WKT is written as GEOS ``to_wkt(rounding_precision=7, trim=True)`` writes it:
  each ordinate of ``ST_AsText`` is re-rounded, fixed-point with 7 decimals
  (the shortest decimal digits rounded half-even, as GEOS does: not the exact
  binary value, which Java's ``format_number`` would round), scientific below
  1e-4 and from 1e17 on, trailing zeros trimmed, and ``Z (`` spaced as GEOS.

Only what gives the same lexical form is here.  Area and length stay on
shapely: the geodesic measures come from two ports of GeographicLib and are
printed as shortest doubles, so their last digits differ.  Known gaps, rare
enough to accept for CRS84 output: non-zero ordinates below 1e-9 in magnitude
(``ST_AsText`` prints at most 16 decimals, so fewer than 8 significant digits
are left), ties at the 8th significant digit of the scientific form (below
1e-4: ``%.7e`` rounds half-up), and integer parts of 17 digits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eokg.spark.functions import EOFN
from eokg.spark.model import Reference, TermMap

#: One ordinate of JTS's WKT (plain decimals: JTS never writes an exponent).
_NUMBER = r"-?[0-9]+(\.[0-9]+)?"
#: Ordinates GEOS writes as JTS does (at most 7 decimals, below 1e10, not below 1e-4):
#: most of them in rounded data, and a regex is far cheaper than the decimal rounding.
_WRITTEN_AS_IS = r"^-?([1-9][0-9]{0,9}(\.[0-9]{0,6}[1-9])?|0\.(?!0000)[0-9]{0,6}[1-9])$"


#: Successive projections: column name -> expression over the columns before it.
#: Each intermediate result is a column of its own, so no expression is copied into
#: its users (a Catalyst tree repeats a shared subexpression at every use).
Stages = list[dict[str, Any]]


def parses(text: Any) -> Any:
    """True where ``text`` (a string column) is WKT that JTS parses."""
    return _reflect(text).isNotNull()


def _reflect(text: Any) -> Any:
    """``Constructors.geomFromWKT(text, 0)`` via ``try_reflect``: null when it throws."""
    from pyspark.sql import functions as F

    return F.call_function(
        "try_reflect",
        F.lit("org.apache.sedona.common.Constructors"),
        F.lit("geomFromWKT"),
        text,
        F.lit(0),
    )


def ordinate(number: Any) -> Any:
    """One ordinate (a string of JTS's WKT) as GEOS writes it with precision 7, trimmed.

    GEOS rounds the shortest decimal digits half-even, which is what ``bround``
    does on the exact decimal that JTS wrote (its digits are the shortest ones);
    from 1e10 on it keeps 17 significant digits, so fewer decimals.
    """
    from pyspark.sql import functions as F

    x = number.cast("double")
    magnitude = F.abs(x)
    exact = number.cast("decimal(38,17)")
    rounded = F.bround(exact, 7)
    for digits in range(11, 18):  # integer digits -> decimals GEOS keeps
        rounded = F.when(magnitude >= 10.0 ** (digits - 1), F.bround(exact, 17 - digits)).otherwise(
            rounded
        )
    fixed = rounded.cast("string")
    fixed = F.when(fixed.contains("."), F.regexp_replace(fixed, r"\.?0+$", "")).otherwise(fixed)
    sci = F.format_string("%.7e", x)
    sci = F.regexp_replace(F.regexp_replace(sci, r"\.?0+e", "e"), r"e([+-])0*([0-9])", "e$1$2")
    return (
        F.when(number.rlike(_WRITTEN_AS_IS), number)
        .when(x == 0, F.when(number.startswith("-"), F.lit("-0")).otherwise(F.lit("0")))
        .when((magnitude < 1e-4) | (magnitude >= 1e17), sci)
        .otherwise(fixed)
    )


def _wkt(prefix: str, geom: Any) -> tuple[Stages, Any]:
    """WKT of a geometry, written exactly as :func:`eokg.spark.functions._wkt` does:
    JTS's text with every ordinate rewritten by :func:`ordinate`."""
    from pyspark.sql import functions as F

    text, numbers, parts = (F.col(prefix + name) for name in ("t", "n", "s"))
    stages: Stages = [
        {prefix + "t": F.regexp_replace(_st("ST_AsText", geom), r" (Z|M|ZM)\(", " $1 (")},
        {
            prefix + "n": F.regexp_extract_all(text, F.lit(_NUMBER), 0),
            prefix + "s": F.split(text, _NUMBER),
        },
    ]
    pieces = F.zip_with(  # one more part than numbers: the last pairs with null
        parts, F.transform(numbers, ordinate), lambda p, o: F.concat(p, F.coalesce(o, F.lit("")))
    )
    return stages, F.when(F.size(numbers) == 0, text).otherwise(F.array_join(pieces, ""))


def _centroid(prefix: str, geom: Any) -> tuple[Stages, Any]:
    return _wkt(prefix, _st("ST_Centroid", geom))


def _envelope(prefix: str, geom: Any) -> tuple[Stages, Any]:
    """The envelope's WKT as GEOS builds it: a point for a point, otherwise a polygon
    from the lower-left corner counter-clockwise (JTS goes clockwise), degenerate
    for a horizontal or vertical line; ``POINT EMPTY`` for an empty geometry."""
    from pyspark.sql import functions as F

    names = ("ST_XMin", "ST_YMin", "ST_XMax", "ST_YMax")
    stages: Stages = [
        {prefix + "e": _st("ST_IsEmpty", geom), **{prefix + n: _st(n, geom) for n in names}}
    ]
    bounds = [F.col(prefix + n) for n in names]
    x0, y0, x1, y1 = (ordinate(b.cast("string")) for b in bounds)
    ring: list[Any] = [F.lit("POLYGON ((")]
    for i, (x, y) in enumerate([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]):
        ring += [F.lit(", " if i else ""), x, F.lit(" "), y]
    ring.append(F.lit("))"))
    point = (bounds[0] == bounds[2]) & (bounds[1] == bounds[3])
    value = (
        F.when(F.col(prefix + "e"), F.lit("POINT EMPTY"))
        .when(point, F.concat(F.lit("POINT ("), x0, F.lit(" "), y0, F.lit(")")))
        .otherwise(F.concat(*ring))
    )
    return stages, value


def _is_valid(prefix: str, geom: Any) -> tuple[Stages, Any]:
    from pyspark.sql import functions as F

    valid = _st("ST_IsValid", geom)
    return [], F.when(valid, F.lit("true")).when(~valid, F.lit("false"))


#: Function IRI -> (stages, lexical value) from the column of the parsed CRS84 geometry.
SEDONA_FUNCTIONS: dict[str, Callable[[str, Any], tuple[Stages, Any]]] = {
    EOFN + "asWKT": _wkt,
    EOFN + "toCRS84": _wkt,
    EOFN + "centroid": _centroid,
    EOFN + "envelope": _envelope,
    EOFN + "isValid": _is_valid,
}


def _st(name: str, geom: Any) -> Any:
    from pyspark.sql import functions as F

    return F.call_function(name, geom)


# ------------------------------------------------------------ compiled calls


@dataclass
class CompiledCall:
    """One geometry function term as columns: its lexical value and its reject reason."""

    value: Any  # lexical string, null where the record is rejected or has no geometry
    reason: Any  # the reason as JSON text (as ``reject_line`` writes it), null when fine
    geometry: Reference  # the WKT column read, probed for what only shapely reads
    stages: Stages  # the columns value and reason read, added to the source frame first


def compile_call(
    term: TermMap,
    value_of: Callable[[Reference], Any],
    json_text: Callable[[Any], Any],
    prefix: str,
    column: int,
) -> CompiledCall:
    """The SQL of a geometry function term; raises ``NotCompilable`` when only shapely
    gives the same answer.  ``value_of`` gives a reference's string column,
    ``json_text`` the ``json.dumps`` of a string column; the stages' columns are
    named ``prefix`` + a letter, except the parsed geometry and the function's
    result, which every call on the same source ``column`` shares (each is
    computed once per record)."""
    from pyspark.sql import functions as F

    from eokg.spark.functions import P_CRS, P_GEOMETRY, P_REQUIRED, P_VALID
    from eokg.spark.sql_compile import NotCompilable

    call = term.function
    if call is None or call.function not in SEDONA_FUNCTIONS:
        raise NotCompilable(f"{term.where} calls a function Sedona does not replace")
    names = {name for name, _ in call.params}
    if names - {P_GEOMETRY, P_CRS, P_REQUIRED, P_VALID}:
        raise NotCompilable(f"{term.where}: unexpected parameters")
    geometry = call.param(P_GEOMETRY)
    if geometry is None or geometry.kind != "reference" or geometry.reference is None:
        raise NotCompilable(f"{term.where}: the geometry is not a column")
    checks = call.function != EOFN + "isValid"  # isValid reads the geometry only
    if checks and _flag(call.param(P_VALID), term.where):
        raise NotCompilable(f"{term.where}: validity reasons are GEOS's own words")
    crs = call.param(P_CRS)
    if checks and crs is not None and not (crs.kind == "constant" and _is_crs84(crs.constant)):
        raise NotCompilable(f"{term.where}: reprojection stays on pyproj")
    text = value_of(geometry.reference)
    shown = json_text(F.substring(text, 1, 60))
    where = F.lit(f"{term.where}: ")
    unparseable = F.concat(where, F.lit("unparseable WKT geometry: "), shown)
    parsed = f"__g{column}"
    ok = F.col(parsed + "ok")
    reason = F.when(text.isNotNull() & ~ok, json_text(unparseable))
    if checks and _flag(call.param(P_REQUIRED), term.where):
        missing = F.lit(json.dumps(f"{term.where}: missing geometry", ensure_ascii=False))
        reason = F.when(text.isNull(), missing).otherwise(reason)
    geom = F.col(parsed + "g")
    build = SEDONA_FUNCTIONS[call.function]
    stages, value = build(parsed + build.__name__, geom)  # asWKT and toCRS84 share theirs
    parse = {parsed + "g": F.when(ok, _st("ST_GeomFromWKT", text)), prefix + "r": reason}
    stages = [{parsed + "ok": parses(text)}, parse, *stages]
    value = F.when(F.col(prefix + "r").isNull(), value)
    return CompiledCall(value, F.col(prefix + "r"), geometry.reference, stages)


def _flag(param: TermMap | None, where: str) -> bool:
    """A constant true/false parameter, as ``functions._flag`` reads it."""
    from eokg.spark.sql_compile import NotCompilable

    if param is None:
        return False
    if param.kind != "constant":
        raise NotCompilable(f"{where}: a flag read from the data")
    return str(param.constant).lower() in ("true", "1")


def _is_crs84(code: str | None) -> bool:
    from eokg.spark.functions import _CRS84_NAMES

    return code is not None and code.strip() in _CRS84_NAMES


#: Values that shapely reads differently: a ``<crs>`` WKT prefix or GeoJSON.
NOT_WKT = r"(?U)^\s*[<{]"
