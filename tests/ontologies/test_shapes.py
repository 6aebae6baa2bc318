"""The SHACL shapes accept good records of every class and reject the bad set.

``fixtures/bad.ttl`` mirrors the sample generator's ``bad/`` files as RDF; each
bad focus node must fail with the message below (and with nothing else).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eokg.errors import RDFParseError, ShapeViolation
from eokg.ontologies.validate import ValidationReport, validate_files, validate_graph

FIXTURES = Path(__file__).parent / "fixtures"
D = "https://w3id.org/eokg/data/"

#: focus node -> (result path, part of the message)
EXPECTED = {
    "product/bad-missing-geometry": ("geo:hasGeometry", "a feature needs a geo:hasGeometry"),
    "product/bad-datetime": ("eo:startTime", "exactly one eo:startTime xsd:dateTime"),
    "product/bad-polarisation": ("eo:polarisation", "polarisations among HH, HV, VV, VH"),
    "product/bad-product-type": ("eo:productType", "from the product type scheme"),
    "patch/badlen01": (None, "eo:patchHeight x eo:patchWidth numbers"),
    "patch/badnum02": ("eo:band1", "eo:band1 eo:Tensor (JSON array)"),
    "patch/badinc03": ("eo:incidenceAngle", "in [0, 90] degrees"),
    "patch/badlabel04/label": ("eo:labelClass", "exactly one eo:labelClass concept"),
    "icechart/2025-03-14/bad-ct": ("eo:totalConcentration", "percentage in [0, 100]"),
    "icechart/2025-03-14/bad-self-intersection/geometry": ("geo:asWKT", "Self-intersection"),
    "icechart/2025-03-14/bad-stage": ("eo:stageOfDevelopment", "a sea-ice scheme concept"),
    "icechart/2025-13-45/bad-date": ("eo:chartDate", "one eo:chartDate xsd:date"),
    "parcel/bad-wkt/geometry": ("geo:asWKT", "malformed WKT"),
    "parcel/bad-crs/geometry": ("geo:asWKT", "unknown CRS EPSG:999999"),
    "parcel/bad-crop": ("eo:cropType", "from the crop scheme"),
    "parcel/bad-crop-scheme": ("eo:cropType", "from the crop scheme"),
    "prediction/run-1/bad-confidence": ("eo:confidence", "eo:confidence xsd:double in [0, 1]"),
    "prediction/run-1/bad-no-run": ("prov:wasGeneratedBy", "its prediction run"),
    "model/bad-accuracy": ("eo:validationAccuracy", "xsd:double in [0, 1]"),
}


@pytest.fixture(scope="module")
def bad_report() -> ValidationReport:
    return validate_graph(FIXTURES / "bad.ttl")


def test_good_records_of_every_class_conform() -> None:
    report = validate_graph(FIXTURES / "good.ttl")
    assert report.conforms, report.text()
    assert report.violations == []


@pytest.mark.parametrize("focus", sorted(EXPECTED))
def test_each_bad_record_fails_for_its_reason(bad_report: ValidationReport, focus: str) -> None:
    path, message = EXPECTED[focus]
    found = bad_report.for_focus(D + focus)
    assert len(found) == 1, [str(v) for v in found]
    assert found[0].path == path
    assert message in found[0].message
    assert found[0].severity == "Violation"


def test_no_unexpected_violations(bad_report: ValidationReport) -> None:
    assert {v.focus for v in bad_report.violations} == {D + f for f in EXPECTED}
    assert not bad_report.conforms


def test_subclass_inference_applies_product_shape() -> None:
    # An eo:Sentinel1GRD is an eo:Product only through rdfs:subClassOf in the ontology.
    ttl = """
        @prefix eo: <https://w3id.org/eokg/ontology#> .
        <https://w3id.org/eokg/data/product/x> a eo:SARProduct ; eo:polarisation "HH" .
    """
    report = validate_graph(ttl, where="inline")
    messages = {v.message for v in report.violations}
    assert any("eo:productIdentifier" in m for m in messages)
    assert any("eo:platform" in m for m in messages)


def test_raise_if_invalid_names_where_and_violations(bad_report: ValidationReport) -> None:
    with pytest.raises(ShapeViolation) as info:
        bad_report.raise_if_invalid()
    assert "bad.ttl" in str(info.value)
    assert len(info.value.details["violations"]) == len(EXPECTED)


def test_validate_files_merges_files(tmp_path: Path) -> None:
    label = tmp_path / "label.ttl"
    label.write_text(
        "@prefix eo: <https://w3id.org/eokg/ontology#> .\n"
        "<urn:l> a eo:Label ; eo:labelClass <https://w3id.org/eokg/concept/seaice/ship> .\n"
    )
    report = validate_files([FIXTURES / "good.ttl", label])
    assert report.conforms, report.text()


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix eo: <https://w3id.org/eokg/ontology#> .\n\n<urn:a> eo:x \n")
    with pytest.raises(RDFParseError) as info:
        validate_files([broken])
    assert "broken.ttl" in str(info.value)
