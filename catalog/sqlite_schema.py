"""Tables of the embedded catalogue (SQLite, WAL).

``items`` holds the item JSON, its properties apart (queried with JSON1), and
indexed time columns;
``items_rtree`` the footprint bboxes with the time interval as a third axis;
``items_fts`` the searchable text
(title, description, keywords, labels of the item's concepts);
``item_concepts`` item -> concept IRI for semantic search; ``queryables`` the
property names and JSON types seen per collection; ``meta`` statistics such as
the longest item time interval.
"""

from __future__ import annotations

import sqlite3

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA case_sensitive_like=ON",  # CQL2 LIKE is case-sensitive; casei() lowers
    "PRAGMA cache_size=-262144",
    "PRAGMA mmap_size=1073741824",
)

DDL = """
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    rowid INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    t_start REAL,
    t_end REAL,
    item TEXT NOT NULL,   -- the item without its properties (kept small to parse)
    props TEXT NOT NULL,  -- the properties object, what filters read
    derived TEXT,
    geom BLOB,
    UNIQUE (collection, id)
);
CREATE INDEX IF NOT EXISTS items_by_start ON items (t_start DESC, id);
CREATE INDEX IF NOT EXISTS items_by_end ON items (t_end);
CREATE INDEX IF NOT EXISTS items_by_id ON items (id);
CREATE INDEX IF NOT EXISTS items_by_time ON items (t_start, t_end);
-- lon, lat and time (epoch seconds): one lookup answers bbox + datetime.
CREATE VIRTUAL TABLE IF NOT EXISTS items_rtree USING rtree (
    id, minx, maxx, miny, maxy, mint, maxt
);
CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5 (
    title, description, keywords, concepts, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS item_concepts (
    concept TEXT NOT NULL,
    item INTEGER NOT NULL,
    PRIMARY KEY (concept, item)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS item_concepts_by_item ON item_concepts (item);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queryables (
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (collection, name)
) WITHOUT ROWID;
"""


#: the stored item with its properties put back, as SQL over ``items i``.
ITEM_SQL = "json_set(i.item, '$.properties', json(i.props))"


#: What every further connection to an initialised file sets (the journal mode is
#: the file's; the rest, LIKE's case sensitivity included, is per connection).
#: Readers get a smaller page cache: there is one per request thread, and the file's
#: pages are shared through mmap and the OS cache anyway.
READER_PRAGMAS = (
    *(p for p in PRAGMAS if "journal_mode" not in p and "cache_size" not in p),
    "PRAGMA cache_size=-16384",
)


def initialise(conn: sqlite3.Connection) -> None:
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.executescript(DDL)
