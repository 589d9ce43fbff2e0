"""The corpus's own Milvus collection: its vectors inserted once (batched, with progress), reopened without
re-inserting while the corpus and bi-encoder are the same, searched by inner product on unit vectors as FAISS is.

The index type is chosen by where it lives and how large it is: FLAT (exact) in milvus-lite and for small
collections; on a server, from ``HNSW_FROM`` vectors, HNSW, else IVF_FLAT, else FLAT, whichever the server
accepts first. Like FAISS's HNSW, what an approximate index misses is measured after building: recall@k against
exact search on a seeded sample of the corpus's own vectors.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Hit
from explorer.retrieval.dense_index import RecallReport, recall_against_exact
from explorer.retrieval.first_stage import FirstStageMethod
from explorer.retrieval.milvus_connection import MilvusTarget, MilvusUnavailable

ID_FIELD, VECTOR_FIELD = "unit_id", "vector"
HNSW_FROM = 100_000  # vectors, as for FAISS
INSERT_BATCH = 2_000
MAX_ID_LENGTH = 65_535  # Milvus's limit for a VARCHAR primary key
RECALL_K, RECALL_QUERIES = 100, 200
# progress(done, total) while vectors are inserted
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MilvusIndexReport:
    """What opening the collection did: where, which index, how many vectors, inserted now or found, how long."""

    backend: str  # "milvus-lite" or "Milvus server"
    where: str  # the target's label (no credentials)
    collection: str
    index_type: str
    vectors: int
    inserted: int  # 0 when the collection was reopened as it was
    seconds: float
    recall: RecallReport | None

    @property
    def description(self) -> str:
        """One line for the index report."""
        made = (f"built in {self.seconds:.1f} s" if self.inserted
                else f"reopened in {self.seconds:.1f} s, nothing inserted")
        line = (f"Milvus ({self.backend}, {self.index_type}, {self.vectors:,} vectors, collection {self.collection}, "
                f"{made})")
        if self.recall is not None:
            line += (f": recall@{self.recall.k} {self.recall.recall:.3f} against exact search "
                     f"({self.recall.queries} sample queries)")
        return line


def collection_name(key: str) -> str:
    """The collection that holds the corpus embedded under ``key``: the name carries the key (hashed), since
    Milvus keeps no description of ours with the collection."""
    return "explorer_" + hashlib.sha256(key.encode()).hexdigest()[:40]


def index_choices(target: MilvusTarget, vectors: int) -> list[tuple[str, dict[str, int]]]:
    """Index types to try, in order, with their build parameters."""
    if target.is_local or vectors < HNSW_FROM:
        return [("FLAT", {})]
    nlist = int(min(65_536, max(64, 4 * np.sqrt(vectors))))
    return [("HNSW", {"M": 32, "efConstruction": 200}), ("IVF_FLAT", {"nlist": nlist}), ("FLAT", {})]


def search_params(index_type: str, k: int) -> dict[str, Any]:
    """Per-search parameters for the index type (inner product, and how widely an approximate index looks)."""
    params: dict[str, Any] = {"metric_type": "IP"}
    if index_type == "HNSW":
        params["params"] = {"ef": max(256, k)}
    elif index_type == "IVF_FLAT":
        params["params"] = {"nprobe": 32}
    return params


class MilvusStage:
    """The corpus's units (documents or passages) searched in their Milvus collection; a ``FirstStage``."""

    method: FirstStageMethod = "milvus"
    needs_vector = True

    def __init__(self, client: Any, report: MilvusIndexReport) -> None:
        self._client = client
        self.report = report

    @property
    def description(self) -> str:
        """The index report's line: backend, index type, size, build and recall."""
        return self.report.description

    def search(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """The top ``k`` units for the encoded query."""
        if query_vector is None:
            raise ConfigError("The Milvus first stage needs the encoded query; call the pipeline's search() instead.")
        return self.search_rows(np.asarray(query_vector, dtype=np.float32).reshape(1, -1), k)[0]

    def search_rows(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """The top ``k`` for each query row."""
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}.")
        found = self._client.search(self.report.collection, data=[row.tolist() for row in queries],
                                    anns_field=VECTOR_FIELD, limit=min(k, self.report.vectors),
                                    search_params=search_params(self.report.index_type, k), output_fields=[])
        return [[Hit(rank, str(hit.get(ID_FIELD, hit.get("id"))), float(hit["distance"]))
                 for rank, hit in enumerate(row, start=1)] for row in found]


def open_corpus_collection(client: Any, target: MilvusTarget, key: str, vectors: np.ndarray, ids: Sequence[str],
                           progress: Progress | None = None) -> MilvusStage:
    """The collection of the corpus embedded under ``key``: reopened when it holds exactly these vectors, else
    (re)built from ``vectors`` (unit length, one row per id)."""
    if len(vectors) != len(ids):
        raise ConfigError(f"{len(vectors)} vectors but {len(ids)} ids; they must match.")
    if not len(ids):
        raise ConfigError("The corpus is empty; load documents before building a Milvus collection.")
    started = time.perf_counter()
    name = collection_name(key)
    index_type = _reopen(client, name, len(ids))
    inserted = 0
    if index_type is None:
        index_type = _build(client, target, name, key, vectors, ids, progress)
        inserted = len(ids)
    elif progress is not None:
        progress(len(ids), len(ids))
    seconds = time.perf_counter() - started
    report = MilvusIndexReport(target.backend, target.label, name, index_type, len(ids), inserted, seconds, None)
    stage = MilvusStage(client, report)
    # measured for FLAT too: it shows that the backend returns what exact search does, as the report claims
    stage.report = MilvusIndexReport(**{**report.__dict__, "recall": measure_recall(stage, vectors, ids)})
    return stage


def _reopen(client: Any, name: str, rows: int) -> str | None:
    """The index type of the collection ``name`` when it holds all ``rows`` and its index, else None (and a partial
    collection of that name, left by a build that stopped, is dropped)."""
    if not client.has_collection(name):
        return None
    complete = client.get_collection_stats(name).get("row_count") == rows
    indexes = client.list_indexes(name) if complete else []
    if complete and indexes:
        client.load_collection(name)
        return str(client.describe_index(name, indexes[0]).get("index_type", "FLAT"))
    client.drop_collection(name)
    return None


def _build(client: Any, target: MilvusTarget, name: str, key: str, vectors: np.ndarray, ids: Sequence[str],
           progress: Progress | None) -> str:
    from pymilvus import DataType, MilvusClient

    longest = max(len(i.encode("utf-8")) for i in ids)
    if longest > MAX_ID_LENGTH:
        raise ConfigError(f"A document id is {longest:,} bytes long; Milvus keys hold at most {MAX_ID_LENGTH:,}.")
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=key)
    schema.add_field(ID_FIELD, DataType.VARCHAR, is_primary=True, max_length=max(64, longest))
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=int(vectors.shape[1]))
    client.create_collection(name, schema=schema)
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    for start in range(0, len(ids), INSERT_BATCH):
        rows = [{ID_FIELD: ids[i], VECTOR_FIELD: matrix[i].tolist()}
                for i in range(start, min(start + INSERT_BATCH, len(ids)))]
        client.insert(name, rows)
        if progress is not None:
            progress(start + len(rows), len(ids))
    client.flush(name)
    chosen = _create_index(client, name, index_choices(target, len(ids)))
    client.load_collection(name)
    return chosen


def _create_index(client: Any, name: str, choices: list[tuple[str, dict[str, int]]]) -> str:
    """The first index type of ``choices`` that the server accepts."""
    refused = []
    for index_type, params in choices:
        index = client.prepare_index_params()
        index.add_index(field_name=VECTOR_FIELD, index_type=index_type, metric_type="IP", params=params)
        try:
            client.create_index(name, index)
            return index_type
        except Exception as exc:  # the server's refusal comes as its own exception type
            refused.append(f"{index_type}: {str(exc)[:120]}")
    raise MilvusUnavailable("The Milvus server accepted none of the index types tried (" + "; ".join(refused) + ").")


def measure_recall(stage: MilvusStage, vectors: np.ndarray, ids: Sequence[str], queries: np.ndarray | None = None,
                   k: int = RECALL_K, seed: int = 0) -> RecallReport:
    """Recall@k of the collection against exact search over ``vectors`` (row i is ``ids[i]``), on ``queries`` or
    a seeded sample of the vectors themselves."""
    row_of = {doc_id: row for row, doc_id in enumerate(ids)}

    def search_rows(rows: np.ndarray, wanted: int) -> np.ndarray:
        found = []
        for start in range(0, len(rows), 50):
            for hits in stage.search_rows(rows[start:start + 50], wanted):
                found.append([row_of.get(hit.doc_id, -1) for hit in hits] + [-1] * (wanted - len(hits)))
        return np.asarray(found, dtype=np.int64)

    return recall_against_exact(search_rows, vectors, queries, k, RECALL_QUERIES, seed)
