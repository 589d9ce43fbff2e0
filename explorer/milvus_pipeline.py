"""The Milvus first stage opened for a pipeline: the corpus's own collection (built here from the embeddings the
FAISS index uses, so both search the same vectors), or the user's collection attached as it is."""

from __future__ import annotations

from explorer.errors import ConfigError
from explorer.models.info import LoadedModel
from explorer.pipeline import IndexReport, RetrievalPipeline, unit_ids_and_texts
from explorer.records import Dataset, FetchedDataset
from explorer.retrieval.embedding import Progress, embed_corpus
from explorer.retrieval.embedding_cache import EmbeddingCache
from explorer.retrieval.milvus_attached import (
    AttachedCollection,
    ReadOnlyCollection,
    mapping_for,
    read_collection,
    schema_fields,
)
from explorer.retrieval.milvus_connection import MilvusSource, MilvusTarget, connect, target_for
from explorer.retrieval.milvus_index import open_corpus_collection
from explorer.retrieval.passages import OverLength
from explorer.settings import Settings


def milvus_target(source: MilvusSource, settings: Settings) -> MilvusTarget:
    """Where the source's Milvus is: its URI, else EXPLORER_MILVUS_URI, else the workspace's milvus-lite folder."""
    return target_for(source, settings.milvus_uri, settings.milvus_lite_path, settings.milvus_token)


def check_server_allowed(target: MilvusTarget, settings: Settings) -> None:
    """For a URI typed on a page: a server target must be on this machine, on EXPLORER_MILVUS_URI's host, or on a host
    in EXPLORER_MILVUS_HOSTS (the server would open a connection there and send it MILVUS_TOKEN). ConfigError
    otherwise, naming the setting. Local milvus-lite folders are checked as typed paths are, elsewhere."""
    if target.on_this_machine:
        return
    allowed = {*settings.milvus_hosts, MilvusTarget(settings.milvus_uri).host} - {""}
    if target.host not in allowed:
        raise ConfigError(
            f"This server connects only to the Milvus servers whoever runs it allows (this machine, "
            f"EXPLORER_MILVUS_URI's host, and EXPLORER_MILVUS_HOSTS), not to {target.host or target.label!r}. Ask them "
            f"to add it to EXPLORER_MILVUS_HOSTS (comma-separated host names), or use the command line's --milvus-uri.")


def with_corpus_collection(pipeline: RetrievalPipeline, target: MilvusTarget, settings: Settings,
                           progress: Progress | None = None) -> RetrievalPipeline:
    """``pipeline`` with its corpus also in a Milvus collection (built once, reopened after) as the ``milvus``
    first stage. The vectors are the FAISS index's own, read from the embedding cache."""
    ids, texts = unit_ids_and_texts(pipeline.dataset, pipeline.passages)
    passages = pipeline.index_report.passages
    embeddings = embed_corpus(pipeline.bi_encoder, texts, EmbeddingCache(settings.cache_dir / "embeddings"),
                              options=passages.key if passages else "")
    stage = open_corpus_collection(connect(target), target, embeddings.key, embeddings.vectors, ids, progress)
    return pipeline.with_first_stage(stage)


def attached_pipeline(source: MilvusSource, target: MilvusTarget, bi_encoder: LoadedModel,
                      dataset: Dataset) -> RetrievalPipeline:
    """A pipeline whose first stage is the user's collection ``source.collection`` (read only), with the queries and
    labels of ``dataset`` and the documents fetched from the collection."""
    client = connect(target)
    read_collection(client, source.collection, target.label)  # a ConfigError naming the ones it has, if missing
    collection = ReadOnlyCollection(client, source.collection)
    model = bi_encoder.model
    dimension = int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)() or 0)
    stage = AttachedCollection(collection, target, mapping_for(source, schema_fields(collection)), dimension,
                               bi_encoder.info.loaded, source.filter)
    data = FetchedDataset(f"{dataset.name} · collection {source.collection}", (), dataset.queries,
                          dataset.qrels_by_split, lookup=stage.document)
    limit = int(bi_encoder.model.max_seq_length)
    report = IndexReport(stage.rows, stage.rows, True, 0.0, OverLength(0, stage.rows, limit, 0),
                         index_kind="milvus", index_description=stage.description)
    return RetrievalPipeline(data, bi_encoder, None, None, report, stages={"milvus": stage})
