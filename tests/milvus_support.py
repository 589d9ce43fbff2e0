"""For the Milvus tests: a collection made as a user might have made it, with its own field names, in milvus-lite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from explorer.records import Document


@dataclass(frozen=True)
class UserCollection:
    """A user's collection: its name, the names of its fields, its index metric, and its keys (the documents' own
    ids, or 1, 2, ... as integers)."""

    name: str
    id_field: str
    title_field: str
    text_field: str
    tag_field: str  # a VARCHAR a filter can test
    vector_field: str
    metric: str = "IP"
    integer_ids: bool = False

    def key(self, row: int, document: Document) -> int | str:
        """The key the collection stores for the ``row``-th document."""
        return row + 1 if self.integer_ids else document.doc_id


def create_user_collection(client: Any, shape: UserCollection, documents: Sequence[Document], vectors: np.ndarray,
                           tag: Callable[[int], str]) -> None:
    """Creates ``shape`` through ``client`` (FLAT index) and inserts ``documents`` with ``vectors``, the ``row``-th
    tagged ``tag(row)``."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    if shape.integer_ids:
        schema.add_field(shape.id_field, DataType.INT64, is_primary=True)
    else:
        schema.add_field(shape.id_field, DataType.VARCHAR, is_primary=True, max_length=100)
    schema.add_field(shape.title_field, DataType.VARCHAR, max_length=1000)
    schema.add_field(shape.text_field, DataType.VARCHAR, max_length=20000)
    schema.add_field(shape.tag_field, DataType.VARCHAR, max_length=20)
    schema.add_field(shape.vector_field, DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    index = client.prepare_index_params()
    index.add_index(field_name=shape.vector_field, index_type="FLAT", metric_type=shape.metric)
    client.create_collection(shape.name, schema=schema, index_params=index)
    client.insert(shape.name, [{shape.id_field: shape.key(row, doc), shape.title_field: doc.title,
                                shape.text_field: doc.text, shape.tag_field: tag(row),
                                shape.vector_field: vectors[row].tolist()} for row, doc in enumerate(documents)])
