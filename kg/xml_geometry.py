"""Geometry literals written in XML: GML (``geo:gmlLiteral``) and KML (``geo:kmlLiteral``).

Readers turn one XML geometry element into a shapely geometry whose
coordinates are in the order the literal writes them, plus the ``srsName`` it
declares; writers do the reverse.  CRS IRIs and axis order are
:mod:`eokg.kg.geometry`'s business, so WKT, GML and KML follow one rule.

A literal is untrusted input, so a literal with a DTD is refused before it is
parsed: no entity is ever declared, expanded or fetched (what ``defusedxml``
guarantees, without the dependency).  The ``gml:`` and ``kml:`` prefixes may be
left undeclared, as hand-written literals often do.

Supported GML (GeoSPARQL 1.1 Req 22 asks implementations to document this):

* **read**: GML 3.2, 3.1.1 and 2.1.2 geometry elements in the namespaces
  ``http://www.opengis.net/gml/3.2``, ``http://www.opengis.net/gml`` and
  ``http://www.opengis.net/ont/gml`` (used by GeoSPARQL 1.0's own example):
  Point, LineString, LinearRing, Polygon (exterior/interior or
  outerBoundaryIs/innerBoundaryIs), Ring, Curve of LineStringSegments,
  Surface of PolygonPatches, CompositeCurve, CompositeSurface, MultiPoint,
  MultiCurve, MultiLineString, MultiSurface, MultiPolygon, MultiGeometry,
  Envelope and Box; positions as posList, pos, coordinates or coord;
  srsDimension 2 or 3.  Arcs, splines and other non-linear curves are refused.
* **write**: GML 3.2 (default; Point, LineString, Polygon, MultiPoint,
  MultiCurve, MultiSurface, MultiGeometry with pos/posList), 3.1.1 (the same
  elements in the 3.1.1 namespace) or 2.1.2 (coordinates, outerBoundaryIs,
  MultiLineString, MultiPolygon).  The root carries ``srsName`` and, for 3D
  geometries in GML 3, ``srsDimension="3"``.

KML 2.2: Point, LineString, LinearRing, Polygon and MultiGeometry, always
``lon,lat[,alt]`` on WGS 84.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from xml.sax.saxutils import quoteattr

import shapely
from shapely.geometry import (
    GeometryCollection,
    LinearRing,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

GML32 = "http://www.opengis.net/gml/3.2"
#: GML 3.1.1 and 2.1.2 share this namespace.
GML = "http://www.opengis.net/gml"
GML_NAMESPACES = frozenset(
    {GML32, GML, "http://www.opengis.net/ont/gml", "http://www.opengis.net/ont/gml/3.2", ""}
)
KML22 = "http://www.opengis.net/kml/2.2"
KML_NAMESPACES = frozenset(
    {
        KML22,
        "http://www.opengis.net/kml/2.3",
        "http://earth.google.com/kml/2.0",
        "http://earth.google.com/kml/2.1",
        "http://earth.google.com/kml/2.2",
        "",
    }
)
#: GML versions :func:`write_gml` can produce.
GML_VERSIONS = ("3.2", "3.1.1", "2.1.2")

Coords = list[tuple[float, ...]]

# --- safe XML ----------------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
#: Deepest element nesting of a literal: the readers recurse once per level, so a
#: literal nested thousands deep would end in a RecursionError.  GML's deepest real
#: shape (MultiSurface/surfaceMember/Polygon/exterior/LinearRing/posList) is 6.
MAX_DEPTH = 64
_WRAPPER = "eokg-literal"
_OPEN = f'<{_WRAPPER} xmlns:gml="{GML32}" xmlns:kml="{KML22}">'


def parse_element(text: str) -> ET.Element:
    """The one element of an XML literal; raises ``ValueError`` saying what is wrong."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ValueError("a DTD or entity declaration is not allowed in a geometry literal")
    body = _XML_DECLARATION.sub("", text, count=1)
    try:
        # The wrapper binds the usual prefixes; a literal's own declarations override it.
        wrapper = ET.fromstring(f"{_OPEN}{body}</{_WRAPPER}>")
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML ({_where(exc)})") from None
    children = list(wrapper)
    stray = (wrapper.text or "").strip() or any((c.tail or "").strip() for c in children)
    if len(children) != 1 or stray:
        raise ValueError("expected exactly one geometry element")
    _check_depth(children[0])
    return children[0]


def _check_depth(root: ET.Element) -> None:
    """``ValueError`` for a tree deeper than ``MAX_DEPTH`` (measured without recursion)."""
    stack = [(root, 1)]
    while stack:
        elem, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"elements nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in elem)


def _where(exc: ET.ParseError) -> str:
    line, column = exc.position
    if line == 1:  # positions on the first line count the wrapper's opening tag
        column = max(column - len(_OPEN), 0)
    reason = str(exc).split(":", 1)[0]
    return f"{reason} at line {line}, column {column + 1}"


def _split(tag: str) -> tuple[str, str]:
    """``(namespace, local name)`` of an ElementTree tag."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _name(elem: ET.Element) -> str:
    return _split(elem.tag)[1]


def _kids(elem: ET.Element, *names: str) -> list[ET.Element]:
    return [child for child in elem if _name(child) in names]


def _number(token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"not a number: {token!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {token!r}")
    return value


def _tuple(values: list[float], what: str) -> tuple[float, ...]:
    if len(values) not in (2, 3):
        raise ValueError(f"{what} has {len(values)} ordinates, expected 2 or 3")
    return tuple(values)


# --- GML reading -------------------------------------------------------------------------


def read_gml(text: str) -> tuple[BaseGeometry, str | None]:
    """A GML geometry element as (shapely geometry in the literal's axis order, srsName)."""
    root = parse_element(text)
    return _geometry(root, None), _srs_name(root)


def _srs_name(root: ET.Element) -> str | None:
    """The root's srsName, else the first one below it (members may carry it alone)."""
    for elem in root.iter():
        name = elem.get("srsName")
        if name and name.strip():
            return name.strip()
    return None


def _dim(elem: ET.Element, inherited: int | None) -> int | None:
    raw = elem.get("srsDimension")
    if raw is None:
        return inherited
    try:
        dim = int(raw)
    except ValueError:
        raise ValueError(f"srsDimension {raw!r} is not an integer") from None
    if dim not in (2, 3):
        raise ValueError(f"srsDimension {dim} is not supported (2 or 3)")
    return dim


def _geometry(elem: ET.Element, dim: int | None) -> BaseGeometry:
    namespace, name = _split(elem.tag)
    if namespace not in GML_NAMESPACES:
        raise ValueError(f"<{name}> is in namespace {namespace!r}, not a GML namespace")
    reader = _GML_READERS.get(name)
    if reader is None:
        raise ValueError(f"unsupported GML element gml:{name}")
    return reader(elem, _dim(elem, dim))


def _positions(elem: ET.Element, dim: int | None) -> Coords:
    """Every position directly inside ``elem``, however it is written."""
    dim = _dim(elem, dim)
    coords: Coords = []
    for child in elem:
        name = _name(child)
        if name == "posList":
            coords.extend(_pos_list(child, dim))
        elif name in ("pos", "lowerCorner", "upperCorner"):
            coords.append(_pos(child, dim))
        elif name in ("pointProperty", "pointRep"):
            for point in _kids(child, "Point"):
                coords.extend(_positions(point, dim))
        elif name == "coordinates":
            coords.extend(_coordinates(child))
        elif name == "coord":
            coords.append(_coord(child))
    return coords


def _pos_list(elem: ET.Element, dim: int | None) -> Coords:
    values = [_number(token) for token in (elem.text or "").split()]
    step = _dim(elem, dim) or 2
    if len(values) % step:
        raise ValueError(f"posList has {len(values)} numbers, not a multiple of {step}")
    return [tuple(values[i : i + step]) for i in range(0, len(values), step)]


def _pos(elem: ET.Element, dim: int | None) -> tuple[float, ...]:
    values = [_number(token) for token in (elem.text or "").split()]
    expected = _dim(elem, dim)
    if expected is not None and len(values) != expected:
        raise ValueError(f"gml:{_name(elem)} has {len(values)} ordinates, srsDimension {expected}")
    return _tuple(values, f"gml:{_name(elem)}")


def _coordinates(elem: ET.Element) -> Coords:
    """GML 2 ``<coordinates>``: tuples split by ``ts``, ordinates by ``cs``."""
    decimal, cs, ts = elem.get("decimal", "."), elem.get("cs", ","), elem.get("ts", " ")
    text = (elem.text or "").strip()
    if ts.isspace():
        # Tolerate "1, 2 3, 4": spaces around the separator are not tuple breaks.
        text = re.sub(rf"\s*{re.escape(cs)}\s*", cs, text)
        tuples = text.split()
    else:
        tuples = [t.strip() for t in text.split(ts) if t.strip()]
    out: Coords = []
    for item in tuples:
        parts = [p.strip().replace(decimal, ".") for p in item.split(cs)]
        out.append(_tuple([_number(p) for p in parts], "a gml:coordinates tuple"))
    return out


def _coord(elem: ET.Element) -> tuple[float, ...]:
    values = [_number((axis.text or "").strip()) for axis in _kids(elem, "X", "Y", "Z")]
    return _tuple(values, "gml:coord")


def _join(parts: Iterable[Coords]) -> Coords:
    """Chain curve pieces; a piece that starts where the last ended shares that point."""
    out: Coords = []
    for part in parts:
        out.extend(part[1:] if out and part and part[0] == out[-1] else part)
    return out


def _curve(elem: ET.Element, dim: int | None) -> Coords:
    """Positions along any linear curve element."""
    name, dim = _name(elem), _dim(elem, dim)
    if name in ("LineString", "LinearRing"):
        return _positions(elem, dim)
    if name == "Curve":
        pieces = []
        for segments in _kids(elem, "segments"):
            for segment in segments:
                if _name(segment) != "LineStringSegment":
                    raise ValueError(f"non-linear curve segment gml:{_name(segment)}")
                pieces.append(_positions(segment, _dim(segment, dim)))
        return _join(pieces)
    if name in ("CompositeCurve", "Ring"):
        members = _kids(elem, "curveMember")
        return _join(_curve(curve, dim) for member in members for curve in member)
    if name == "OrientableCurve":
        base = [c for m in _kids(elem, "baseCurve") for c in m]
        coords = _join(_curve(c, dim) for c in base)
        return coords[::-1] if elem.get("orientation") == "-" else coords
    raise ValueError(f"unsupported GML curve gml:{name}")


def _line(elem: ET.Element, dim: int | None) -> BaseGeometry:
    coords = _curve(elem, dim)
    return LineString(coords) if coords else LineString()


def _linear_ring(elem: ET.Element, dim: int | None) -> BaseGeometry:
    coords = _positions(elem, dim)
    return LinearRing(coords) if coords else LinearRing()


def _point(elem: ET.Element, dim: int | None) -> BaseGeometry:
    coords = _positions(elem, dim)
    if len(coords) > 1:
        raise ValueError(f"gml:Point has {len(coords)} positions")
    return Point(coords[0]) if coords else Point()


def _ring(boundary: ET.Element, dim: int | None) -> Coords:
    rings = list(boundary)
    if len(rings) != 1:
        raise ValueError(f"gml:{_name(boundary)} must hold one ring, not {len(rings)}")
    return _curve(rings[0], _dim(boundary, dim))


def _polygon(elem: ET.Element, dim: int | None) -> BaseGeometry:
    shells = [_ring(b, dim) for b in _kids(elem, "exterior", "outerBoundaryIs")]
    holes = [_ring(b, dim) for b in _kids(elem, "interior", "innerBoundaryIs")]
    if len(shells) > 1:
        raise ValueError("gml:Polygon has more than one exterior")
    if not shells or not shells[0]:
        if holes:
            raise ValueError("gml:Polygon has interiors but no exterior")
        return Polygon()
    return Polygon(shells[0], holes)


def _one_surface(polygons: list[BaseGeometry]) -> BaseGeometry:
    """Patches of one surface: one polygon as it is, several merged into one area."""
    if not polygons:
        return Polygon()
    return polygons[0] if len(polygons) == 1 else shapely.union_all(polygons)


def _surface(elem: ET.Element, dim: int | None) -> BaseGeometry:
    patches = [
        _polygon(patch, _dim(patch, dim))
        for container in _kids(elem, "patches", "polygonPatches")
        for patch in container
    ]
    return _one_surface(patches)


def _composite_surface(elem: ET.Element, dim: int | None) -> BaseGeometry:
    return _one_surface(_members(elem, dim, "surfaceMember", "surfaceMembers"))


def _members(elem: ET.Element, dim: int | None, *tags: str) -> list[BaseGeometry]:
    return [_geometry(g, dim) for member in _kids(elem, *tags) for g in member]


def _flat(shapes: list[BaseGeometry], kinds: tuple[str, ...], what: str) -> list[BaseGeometry]:
    """Members of a homogeneous collection, nested collections of the same kind unpacked."""
    out: list[BaseGeometry] = []
    for shape in shapes:
        if shape.geom_type not in kinds:
            raise ValueError(f"gml:{what} cannot hold a {shape.geom_type}")
        if shape.geom_type.startswith("Multi"):
            out.extend(shape.geoms)
        elif shape.geom_type == "LinearRing":
            out.append(LineString(shape.coords))
        elif not shape.is_empty:
            out.append(shape)
    return out


def _multi_point(elem: ET.Element, dim: int | None) -> BaseGeometry:
    shapes = _members(elem, dim, "pointMember", "pointMembers")
    return MultiPoint(_flat(shapes, ("Point", "MultiPoint"), "MultiPoint"))


def _multi_curve(elem: ET.Element, dim: int | None) -> BaseGeometry:
    tags = ("curveMember", "curveMembers", "lineStringMember")
    shapes = _members(elem, dim, *tags)
    kinds = ("LineString", "LinearRing", "MultiLineString")
    return MultiLineString(_flat(shapes, kinds, _name(elem)))


def _multi_surface(elem: ET.Element, dim: int | None) -> BaseGeometry:
    shapes = _members(elem, dim, "surfaceMember", "surfaceMembers", "polygonMember")
    return MultiPolygon(_flat(shapes, ("Polygon", "MultiPolygon"), _name(elem)))


def _multi_geometry(elem: ET.Element, dim: int | None) -> BaseGeometry:
    return GeometryCollection(_members(elem, dim, "geometryMember", "geometryMembers"))


def _envelope(elem: ET.Element, dim: int | None) -> BaseGeometry:
    """gml:Envelope (lowerCorner/upperCorner) or GML 2 gml:Box, as the rectangle it spans."""
    corners = _positions(elem, dim)
    if not corners:
        return Polygon()
    if len(corners) != 2:
        raise ValueError(f"gml:{_name(elem)} needs two corners, not {len(corners)}")
    (x0, y0, *_), (x1, y1, *_) = corners
    if (x0, y0) == (x1, y1):
        return Point(x0, y0)
    if x0 == x1 or y0 == y1:
        return LineString([(x0, y0), (x1, y1)])
    (x0, x1), (y0, y1) = sorted((x0, x1)), sorted((y0, y1))
    return Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])


_GML_READERS: dict[str, Callable[[ET.Element, int | None], BaseGeometry]] = {
    "Point": _point,
    "LineString": _line,
    "Curve": _line,
    "CompositeCurve": _line,
    "OrientableCurve": _line,
    "LinearRing": _linear_ring,
    "Ring": _line,
    "Polygon": _polygon,
    "Surface": _surface,
    "PolyhedralSurface": _surface,
    "CompositeSurface": _composite_surface,
    "MultiPoint": _multi_point,
    "MultiCurve": _multi_curve,
    "MultiLineString": _multi_curve,
    "MultiSurface": _multi_surface,
    "MultiPolygon": _multi_surface,
    "MultiGeometry": _multi_geometry,
    "Envelope": _envelope,
    "Box": _envelope,
}

# --- GML writing -------------------------------------------------------------------------


_PROFILES = {
    "": "3.2",
    "3": "3.2",
    "3.2": "3.2",
    "3.2.1": "3.2",
    "3.2.2": "3.2",
    "32": "3.2",
    "321": "3.2",
    "3.1": "3.1.1",
    "3.1.1": "3.1.1",
    "31": "3.1.1",
    "311": "3.1.1",
    "2": "2.1.2",
    "2.1": "2.1.2",
    "2.1.2": "2.1.2",
    "21": "2.1.2",
    "212": "2.1.2",
}


def gml_version(profile: str) -> str:
    """The GML version a ``geof:asGML`` profile string asks for ("" means GML 3.2).

    Accepts version strings ("3.2", "GML 3.1.1", "gml2") and the GML namespace IRIs.
    """
    text = profile.strip().lower()
    if text == GML32:
        return "3.2"
    if text == GML:
        return "3.1.1"
    version = _PROFILES.get(re.sub(r"^gml[\s_-]*", "", text))
    if version is None:
        supported = ", ".join(GML_VERSIONS)
        raise ValueError(f"unsupported GML profile {profile!r} (supported: {supported})")
    return version


def write_gml(shape: BaseGeometry, srs_name: str, version: str = "3.2") -> str:
    """A GML element for ``shape`` (coordinates written as they are) with ``srsName``."""
    if version not in GML_VERSIONS:
        raise ValueError(f"unsupported GML version {version!r}")
    namespace = GML32 if version == "3.2" else GML
    attrs = f' xmlns:gml="{namespace}" srsName={quoteattr(srs_name)}'
    gml2 = version == "2.1.2"
    if shape.has_z and not gml2:  # GML 2 has no srsDimension: its tuples say it
        attrs += ' srsDimension="3"'
    return _GmlWriter(gml2, shape.has_z).element(shape, attrs)


def _num(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class _GmlWriter:
    """GML 3 or GML 2 markup for one geometry tree (one flag each, not two code paths)."""

    def __init__(self, gml2: bool, has_z: bool) -> None:
        self.gml2 = gml2
        self.has_z = has_z

    def coords(self, shape: BaseGeometry) -> list[list[float]]:
        return shapely.get_coordinates(shape, include_z=self.has_z).tolist()

    def position_list(self, shape: BaseGeometry) -> str:
        points = self.coords(shape)
        if self.gml2:
            text = " ".join(",".join(_num(v) for v in p) for p in points)
            return f"<gml:coordinates>{text}</gml:coordinates>"
        text = " ".join(_num(v) for p in points for v in p)
        return f"<gml:posList>{text}</gml:posList>"

    def ring(self, ring: BaseGeometry) -> str:
        return f"<gml:LinearRing>{self.position_list(ring)}</gml:LinearRing>"

    def element(self, shape: BaseGeometry, attrs: str = "") -> str:
        kind = shape.geom_type
        tag, body = self._body(shape) if not shape.is_empty else (self._tag(kind), "")
        return f"<gml:{tag}{attrs}>{body}</gml:{tag}>" if body else f"<gml:{tag}{attrs}/>"

    def _tag(self, kind: str) -> str:
        names = {
            "GeometryCollection": "MultiGeometry",
            "MultiLineString": "MultiLineString" if self.gml2 else "MultiCurve",
            "MultiPolygon": "MultiPolygon" if self.gml2 else "MultiSurface",
        }
        return names.get(kind, kind)

    def _body(self, shape: BaseGeometry) -> tuple[str, str]:
        kind = shape.geom_type
        if kind == "Point":
            point = self.coords(shape)[0]
            if self.gml2:
                text = ",".join(_num(v) for v in point)
                return kind, f"<gml:coordinates>{text}</gml:coordinates>"
            return kind, f"<gml:pos>{' '.join(_num(v) for v in point)}</gml:pos>"
        if kind in ("LineString", "LinearRing"):
            return kind, self.position_list(shape)
        if kind == "Polygon":
            outer, inner = ("exterior", "interior")
            if self.gml2:
                outer, inner = "outerBoundaryIs", "innerBoundaryIs"
            parts = [f"<gml:{outer}>{self.ring(shape.exterior)}</gml:{outer}>"]
            parts += [f"<gml:{inner}>{self.ring(r)}</gml:{inner}>" for r in shape.interiors]
            return kind, "".join(parts)
        member = {
            "MultiPoint": "pointMember",
            "MultiLineString": "lineStringMember" if self.gml2 else "curveMember",
            "MultiPolygon": "polygonMember" if self.gml2 else "surfaceMember",
            "GeometryCollection": "geometryMember",
        }[kind]
        body = "".join(f"<gml:{member}>{self.element(part)}</gml:{member}>" for part in shape.geoms)
        return self._tag(kind), body


# --- KML ---------------------------------------------------------------------------------

_KML_GEOMETRIES = frozenset({"Point", "LineString", "LinearRing", "Polygon", "MultiGeometry"})


def read_kml(text: str) -> BaseGeometry:
    """A KML 2.2 geometry element as a shapely geometry (lon, lat[, alt])."""
    return _kml_geometry(parse_element(text))


def _kml_geometry(elem: ET.Element) -> BaseGeometry:
    namespace, name = _split(elem.tag)
    if namespace not in KML_NAMESPACES:
        raise ValueError(f"<{name}> is in namespace {namespace!r}, not the KML namespace")
    if name not in _KML_GEOMETRIES:
        raise ValueError(f"unsupported KML element {name}")
    if name == "Point":
        coords = _kml_coordinates(elem)
        if len(coords) > 1:
            raise ValueError(f"a KML Point has {len(coords)} coordinates")
        return Point(coords[0]) if coords else Point()
    if name == "LineString":
        coords = _kml_coordinates(elem)
        return LineString(coords) if coords else LineString()
    if name == "LinearRing":
        coords = _kml_coordinates(elem)
        return LinearRing(coords) if coords else LinearRing()
    if name == "Polygon":
        shells = [_kml_coordinates(r) for b in _kids(elem, "outerBoundaryIs") for r in b]
        holes = [_kml_coordinates(r) for b in _kids(elem, "innerBoundaryIs") for r in b]
        if len(shells) > 1:
            raise ValueError("a KML Polygon has more than one outer boundary")
        return Polygon(shells[0], holes) if shells and shells[0] else Polygon()
    members = [_kml_geometry(child) for child in elem if _name(child) in _KML_GEOMETRIES]
    return _collection([m for m in members if not m.is_empty])


def _kml_coordinates(elem: ET.Element) -> Coords:
    texts = [(c.text or "") for c in _kids(elem, "coordinates")]
    if len(texts) > 1:
        raise ValueError(f"a KML {_name(elem)} has {len(texts)} coordinates elements")
    text = re.sub(r"\s*,\s*", ",", texts[0].strip()) if texts else ""
    return [
        _tuple([_number(v) for v in item.split(",")], "a KML coordinate tuple")
        for item in text.split()
    ]


def _collection(members: list[BaseGeometry]) -> BaseGeometry:
    """KML has only MultiGeometry: read it back as the most specific collection."""
    kinds = {m.geom_type for m in members}
    if members and kinds == {"Point"}:
        return MultiPoint(members)
    if members and kinds <= {"LineString", "LinearRing"}:
        return MultiLineString([LineString(m.coords) for m in members])
    if members and kinds == {"Polygon"}:
        return MultiPolygon(members)
    return GeometryCollection(members)


def write_kml(shape: BaseGeometry) -> str:
    """A KML 2.2 geometry element for ``shape`` (coordinates must already be lon, lat)."""
    return _kml(shape, f' xmlns="{KML22}"')


def _kml(shape: BaseGeometry, attrs: str = "") -> str:
    kind = shape.geom_type
    tag = kind if kind in ("Point", "LineString", "LinearRing", "Polygon") else "MultiGeometry"
    if shape.is_empty:
        return f"<{tag}{attrs}/>"
    if kind == "Polygon":
        rings = [f"<outerBoundaryIs>{_kml_ring(shape.exterior)}</outerBoundaryIs>"]
        rings += [f"<innerBoundaryIs>{_kml_ring(r)}</innerBoundaryIs>" for r in shape.interiors]
        body = "".join(rings)
    elif tag == "MultiGeometry":
        body = "".join(_kml(part) for part in shape.geoms)
    else:
        body = _kml_coordinate_text(shape)
    return f"<{tag}{attrs}>{body}</{tag}>"


def _kml_ring(ring: BaseGeometry) -> str:
    return f"<LinearRing>{_kml_coordinate_text(ring)}</LinearRing>"


def _kml_coordinate_text(shape: BaseGeometry) -> str:
    points = shapely.get_coordinates(shape, include_z=shape.has_z).tolist()
    text = " ".join(",".join(_num(v) for v in p) for p in points)
    return f"<coordinates>{text}</coordinates>"
