"""A collection the user already has, attached as it is: its schema read, the fields holding id, text, title
and vector picked (or guessed), the query embedded by the chosen bi-encoder (its dimension checked against the
collection's), searched with an optional filter, and the texts fetched for the reranker.

An attached collection is never written to: this module keeps the client behind ``ReadOnlyCollection``, which
has only the reading calls.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Document, Hit
from explorer.retrieval.first_stage import FirstStageMethod
from explorer.retrieval.milvus_connection import MilvusSource, MilvusTarget, MilvusUnavailable

TEXT_NAMES = ("text", "content", "body", "passage", "chunk", "document", "page_content")
TITLE_NAMES = ("title", "heading", "name", "subject")
FETCHED_KEPT = 50_000  # documents kept after a search, for the pages and the reranker
# Milvus metrics where a smaller value is closer: their distances are negated into scores (higher = better)
DISTANCE_METRICS = ("L2",)


@dataclass(frozen=True)
class CollectionField:
    """One field of a collection's schema, as the page shows it."""

    name: str
    kind: str  # Milvus's type name: VARCHAR, INT64, FLOAT_VECTOR, ...
    dimension: int | None  # for vector fields
    primary: bool

    @property
    def is_vector(self) -> bool:
        """Whether the field holds float vectors."""
        return self.kind == "FLOAT_VECTOR"

    @property
    def is_text(self) -> bool:
        """Whether the field holds text (VARCHAR)."""
        return self.kind == "VARCHAR"


@dataclass(frozen=True)
class FieldMapping:
    """Which fields hold the document id, its text, its title (optional) and its vector."""

    id_field: str
    text_field: str
    vector_field: str
    title_field: str = ""


class ReadOnlyCollection:
    """The reading calls of one collection, and nothing else: the explorer cannot write to it through this."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name

    def describe(self) -> dict[str, Any]:
        """The collection's description, schema included."""
        return self._client.describe_collection(self.name)

    def row_count(self) -> int:
        """How many rows the collection holds."""
        return int(self._client.get_collection_stats(self.name).get("row_count", 0))

    def metric(self, vector_field: str) -> str:
        """The metric of the vector field's index (IP when it has none)."""
        for index_name in self._client.list_indexes(self.name, field_name=vector_field):
            described = self._client.describe_index(self.name, index_name)
            if described.get("metric_type"):
                return str(described["metric_type"]).upper()
        return "IP"

    def ensure_loaded(self) -> bool:
        """Loads a released collection into the server's memory, which searching needs (it writes no data); True when
        this call loaded it."""
        if str(self._client.get_load_state(self.name).get("state", "")).endswith("Loaded"):
            return False
        self._client.load_collection(self.name)
        return True

    def search(self, vector: list[float], field: str, k: int, expression: str, metric: str,
               output: list[str]) -> list[dict[str, Any]]:
        """The top ``k`` rows for one vector, with the ``output`` fields."""
        return list(self._client.search(self.name, data=[vector], anns_field=field, limit=k, filter=expression,
                                        search_params={"metric_type": metric}, output_fields=output)[0])

    def get(self, ids: Sequence[Any], output: list[str]) -> list[dict[str, Any]]:
        """The rows with these primary keys, with the ``output`` fields."""
        return list(self._client.get(self.name, ids=list(ids), output_fields=output))


def schema_fields(collection: ReadOnlyCollection) -> tuple[CollectionField, ...]:
    """The collection's fields, from its schema."""
    fields = []
    for raw in collection.describe().get("fields", []):
        kind = getattr(raw.get("type"), "name", str(raw.get("type")))
        dimension = raw.get("params", {}).get("dim")
        fields.append(CollectionField(str(raw["name"]), kind, int(dimension) if dimension else None,
                                      bool(raw.get("is_primary"))))
    return tuple(fields)


def guess_mapping(fields: Sequence[CollectionField]) -> FieldMapping:
    """The likely id (the primary key), text, title and vector fields, for the page's pickers to start from."""
    primary = next((f.name for f in fields if f.primary), "")
    vector = next((f.name for f in fields if f.is_vector), "")
    texts = [f.name for f in fields if f.is_text and f.name != primary]
    text = next((n for wanted in TEXT_NAMES for n in texts if n.lower() == wanted), texts[0] if texts else "")
    title = next((n for wanted in TITLE_NAMES for n in texts if n.lower() == wanted and n != text), "")
    return FieldMapping(primary, text, vector, title)


def mapping_for(source: MilvusSource, fields: Sequence[CollectionField]) -> FieldMapping:
    """The source's fields where it names them, the guessed ones where it does not."""
    guessed = guess_mapping(fields)
    return FieldMapping(source.id_field or guessed.id_field, source.text_field or guessed.text_field,
                        source.vector_field or guessed.vector_field, source.title_field or guessed.title_field)


class AttachedCollection:
    """The user's collection as a ``FirstStage``: hits are its primary keys, as text, with the texts fetched."""

    method: FirstStageMethod = "milvus"
    needs_vector = True

    def __init__(self, collection: ReadOnlyCollection, target: MilvusTarget, mapping: FieldMapping,
                 dimension: int, bi_encoder_name: str, expression: str = "") -> None:
        self.collection, self.target, self.mapping, self.filter = collection, target, mapping, expression.strip()
        self.fields = schema_fields(collection)
        self._check(dimension, bi_encoder_name)
        by_name = {f.name: f for f in self.fields}
        self._integer_ids = by_name[mapping.id_field].kind.startswith("INT")
        self.metric = collection.metric(mapping.vector_field)
        self.rows = collection.row_count()
        try:
            self.loaded_here = collection.ensure_loaded()
        except Exception as exc:  # pymilvus's and the server's own exception types
            raise MilvusUnavailable(
                f"The collection {collection.name!r} is released (not in the server's memory) and could not be loaded "
                f"for searching: {str(exc)[:300]}. Load it on the server (it needs an index on "
                f"{mapping.vector_field!r}), then attach it again.") from None
        self._fetched: OrderedDict[str, Document] = OrderedDict()

    def _check(self, dimension: int, bi_encoder_name: str) -> None:
        by_name = {f.name: f for f in self.fields}
        names = ", ".join(f"{f.name} ({f.kind})" for f in self.fields)
        for role, name in (("id", self.mapping.id_field), ("text", self.mapping.text_field),
                           ("vector", self.mapping.vector_field), ("title", self.mapping.title_field)):
            if role != "title" and not name:
                raise ConfigError(f"Choose the field that holds the {role}; the collection has: {names}.")
            if name and name not in by_name:
                raise ConfigError(f"The collection {self.collection.name!r} has no field {name!r} (for the {role}); "
                                  f"it has: {names}.")
        vector = by_name[self.mapping.vector_field]
        if not vector.is_vector:
            raise ConfigError(f"The field {vector.name!r} is {vector.kind}, not a float vector; "
                              f"the collection has: {names}.")
        if vector.dimension != dimension:
            raise ConfigError(
                f"The collection's vector field {vector.name!r} has {vector.dimension} dimensions, but the bi-encoder "
                f"{bi_encoder_name} makes {dimension}. Choose the bi-encoder the collection was embedded with.")
        for role, name in (("text", self.mapping.text_field), ("title", self.mapping.title_field)):
            if name and not by_name[name].is_text:
                raise ConfigError(f"The {role} field {name!r} is {by_name[name].kind}; choose a VARCHAR field.")

    @property
    def description(self) -> str:
        """Where the collection is, its size, metric and filter, for the index report."""
        where = (f"{self.target.label}, collection {self.collection.name} ({self.rows:,} rows, attached read-only, "
                 f"{self.metric}" + (", loaded into memory for searching" if self.loaded_here else "") + ")")
        return f"Milvus: {where}" + (f", filter {self.filter}" if self.filter else "")

    def search(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """The top ``k`` rows for the encoded query (filtered when a filter is set); their texts are kept."""
        if query_vector is None:
            raise ConfigError("The Milvus first stage needs the encoded query; call the pipeline's search() instead.")
        output = [f for f in (self.mapping.text_field, self.mapping.title_field) if f]
        vector = np.asarray(query_vector, dtype=np.float32).reshape(-1).tolist()
        try:
            found = self.collection.search(vector, self.mapping.vector_field, k, self.filter, self.metric, output)
        except Exception as exc:  # pymilvus's and the server's own exception types
            problem = str(exc)[:300]
            if self.filter:
                raise ConfigError(f"Milvus refused the search with the filter {self.filter!r}: {problem}") from None
            raise MilvusUnavailable(f"The search in {self.collection.name!r} failed: {problem}") from None
        hits = []
        for rank, row in enumerate(found, start=1):
            doc_id = str(row.get(self.mapping.id_field, row.get("id")))
            distance = float(row["distance"])
            hits.append(Hit(rank, doc_id, -distance if self.metric in DISTANCE_METRICS else distance))
            self._keep(self._document(doc_id, row.get("entity", row)))
        return hits

    def _document(self, doc_id: str, values: dict[str, Any]) -> Document:
        title = str(values.get(self.mapping.title_field) or "") if self.mapping.title_field else ""
        return Document(doc_id, title, str(values.get(self.mapping.text_field) or ""))

    def _keep(self, document: Document) -> None:
        self._fetched[document.doc_id] = document
        self._fetched.move_to_end(document.doc_id)
        while len(self._fetched) > FETCHED_KEPT:
            self._fetched.popitem(last=False)

    def document(self, doc_id: str) -> Document | None:
        """The document with this id: as fetched by a search, else read from the collection (None: no such id)."""
        if doc_id in self._fetched:
            return self._fetched[doc_id]
        key: Any = doc_id
        if self._integer_ids:
            try:
                key = int(doc_id)
            except ValueError:
                return None
        output = [f for f in (self.mapping.text_field, self.mapping.title_field) if f]
        rows = self.collection.get([key], output)
        if not rows:
            return None
        document = self._document(doc_id, rows[0])
        self._keep(document)
        return document


@dataclass(frozen=True)
class CollectionOverview:
    """What the page shows before attaching: the collection's size, its fields and the guessed mapping."""

    name: str
    rows: int
    fields: tuple[CollectionField, ...]
    guessed: FieldMapping


def read_collection(client: Any, name: str, where: str) -> CollectionOverview:
    """The collection ``name``'s size and schema (``where`` names the Milvus in the error when it has none)."""
    if not name.strip():
        raise ConfigError("Type the name of the collection to attach.")
    if not client.has_collection(name):
        have = ", ".join(client.list_collections()) or "none"
        raise ConfigError(f"{where} has no collection {name!r}; it has: {have}.")
    collection = ReadOnlyCollection(client, name)
    fields = schema_fields(collection)
    return CollectionOverview(name, collection.row_count(), fields, guess_mapping(fields))
