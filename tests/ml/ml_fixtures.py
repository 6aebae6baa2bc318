"""Test-only RDF writer for generated SAR patches (imported by conftest and tests)."""

from __future__ import annotations

from pathlib import Path

EOD = "https://w3id.org/eokg/data/"
EO = "https://w3id.org/eokg/ontology#"
GEO = "http://www.opengis.net/ont/geosparql#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SEAICE = "https://w3id.org/eokg/concept/seaice/"


def write_patch_quads(path: Path, n: int, seed: int = 42, n_products: int = 40) -> Path:
    """N-Quads of ``n`` generated patches, as the shipped patches mapping would emit them.

    Test-only shortcut: mapping 1600 patches with the RML engine takes 25-50 s on
    this machine, writing the same statements directly takes a few seconds.
    ``test_fixture_matches_the_rml_mapping`` checks that both give the same samples.
    """
    import math

    from eokg.data.sar_patches import _format_band, patch_bands, patch_meta

    graph = f"<{EOD}graph/patches>"
    n_s1 = (n_products + 1) // 2
    with path.open("w", encoding="utf-8") as out:
        for index in range(n):
            meta = patch_meta(seed, index, n_s1)
            bands = patch_bands(seed, meta)
            p = f"<{EOD}patch/{meta.id}>"
            geom = f"<{EOD}patch/{meta.id}/geometry>"
            label = f"<{EOD}patch/{meta.id}/label>"
            half_lat = 3000.0 / 2 / 111_320.0
            half_lon = half_lat / max(math.cos(math.radians(meta.lat)), 1e-6)
            x0, x1 = round(meta.lon - half_lon, 7), round(meta.lon + half_lon, 7)
            y0, y1 = round(meta.lat - half_lat, 7), round(meta.lat + half_lat, 7)
            wkt = f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
            klass = "iceberg" if meta.is_iceberg else "ship"
            lines = [
                f"{p} <{RDF_TYPE}> <{EO}ImagePatch>",
                f'{p} <{EO}band1> "{_format_band(bands[0])}"^^<{EO}Tensor>',
                f'{p} <{EO}band2> "{_format_band(bands[1])}"^^<{EO}Tensor>',
                f'{p} <{EO}patchHeight> "75"^^<{XSD}integer>',
                f'{p} <{EO}patchWidth> "75"^^<{XSD}integer>',
                f"{p} <{EO}cutFrom> <{EOD}product/{meta.product_id}>",
                f"{p} <{EO}hasLabel> {label}",
                f"{p} <{GEO}hasGeometry> {geom}",
                f"{p} <{GEO}hasDefaultGeometry> {geom}",
                f"{label} <{RDF_TYPE}> <{EO}Label>",
                f"{label} <{EO}labelClass> <{SEAICE}{klass}>",
                f"{geom} <{RDF_TYPE}> <{GEO}Geometry>",
                f'{geom} <{GEO}asWKT> "{wkt}"^^<{GEO}wktLiteral>',
            ]
            if meta.inc_angle is not None:
                lines.append(f'{p} <{EO}incidenceAngle> "{meta.inc_angle!r}"^^<{XSD}double>')
            out.write("".join(f"{line} {graph} .\n" for line in lines))
    return path
