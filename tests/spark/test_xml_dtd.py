"""XML logical sources refuse a DTD: no entity is declared, expanded or fetched.

Python's ElementTree never fetches external entities, but it expands internal ones,
and only Expat 2.4.1+ bounds the expansion; a source file is data, it needs no DTD.
No Spark: the local reader is the code path Spark's executors run too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eokg.errors import MappingError
from eokg.spark.model import LogicalSource, Reference
from eokg.spark.sources import open_bytes
from eokg.spark.xml_source import xml_batches

ENTITIES = "".join(
    f'<!ENTITY e{i + 1} "' + f"&e{i};" * 10 + '">' for i in range(8)
)  # e8 is 10^8 times e0: a "billion laughs"


def _values(tmp_path: Path, text: str, iterator: str) -> list[object]:
    path = tmp_path / "source.xml"
    path.write_text(text)
    source = LogicalSource(name="s", path=path, formulation="xpath", iterator=iterator)
    batches = list(xml_batches(source, [Reference("v", ("v",))], 100, open_bytes))
    return [row["val:v"] for batch in batches for row in batch.to_pylist()]


@pytest.mark.parametrize("iterator", ["/r/x", "//x"])  # streamed, and the whole document
@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>',  # XXE
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
        '<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">',
        f'<!DOCTYPE r [<!ENTITY e0 "ha">{ENTITIES}]>',
        '<!DOCTYPE r [<!ENTITY a "' + "A" * 10_000 + '">]>',  # quadratic blowup
        '<!DOCTYPE r [<!ENTITY a "inner">]>',
    ],
)
def test_a_dtd_is_refused(tmp_path: Path, prolog: str, iterator: str) -> None:
    text = f'<?xml version="1.0"?>{prolog}<r><x><v>1</v></x></r>'
    with pytest.raises(MappingError, match="declares a DTD"):
        _values(tmp_path, text, iterator)


@pytest.mark.parametrize("iterator", ["/r/x", "//x"])
def test_plain_documents_still_read(tmp_path: Path, iterator: str) -> None:
    text = '<?xml version="1.0"?><r><x><v>a &amp; b &#x41;</v></x><x><v>2</v></x></r>'
    assert _values(tmp_path, text, iterator) == ["a & b A", "2"]
    deep = "<r><x><v>" + "<y>" * 50_000 + "z" + "</y>" * 50_000 + "</v></x></r>"
    assert _values(tmp_path, deep, iterator) == ["z"]
