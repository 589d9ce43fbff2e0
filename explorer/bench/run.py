"""The benchmark behind ``python -m explorer bench``: the project's engine against the naive baseline.

In one process, on the same pairs and texts (real text: the sample data, and a second BEIR folder when the
caller gives one as ``BenchConfig.extra_data``):

- rerank: ``CrossEncoder.predict`` (batch 32, fp32) against ``explorer.rerank.scoring.score_pairs`` (the engine,
  score cache off), on the packaged MiniLM-L6 encoder read as a cross-encoder (the architecture of
  ms-marco-MiniLM-L-6-v2); time per query of ``depth`` candidates, and agreement with the fp32 scores
  (Spearman over each query's pairs, overlap of the top 10);
- embed: ``SentenceTransformer.encode`` (batch 32, fp32) against ``explorer.retrieval.embedding.encode_texts``; time
  and the lowest cosine between the engine's vector and the fp32 vector of the same text;
- end to end: warm queries never seen before (so the score cache cannot help) on a corpus of
  ``corpus_size`` passages with the app's default models, all stages;
- index: exact against HNSW search on that corpus, with HNSW's recall@k against exact;
- peers (``explorer.bench.peers``): on the rerank pairs, the naive baseline, sentence-transformers' ONNX and OpenVINO
  backends (or why they cannot run here) and the engine, timed in turn.

The measurements live in ``explorer.bench.measure`` and the records in ``explorer.bench.report``. Nothing here
asserts a speed: the report says what was measured, on which machine, under which load, and which goals were met.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from explorer.bench.corpus import embedding_texts, load_sources, rerank_cases
from explorer.bench.measure import Say, bench_embed, bench_end_to_end, bench_rerank
from explorer.bench.peers import bench_peers
from explorer.bench.report import BenchReport, EmbedBench, EndToEndBench, RerankBench, describe_machine, load_average
from explorer.errors import ConfigError
from explorer.inference.device import choose_device
from explorer.settings import SAMPLE_DATA, Settings

# The thresholds of the benchmark's goals (see ``goals_met`` for what each is and why).
GOALS = {"rerank_speedup": 5.0, "rerank_spearman": 0.99, "rerank_top10_overlap": 0.9, "embed_speedup": 2.0,
         "embed_min_cosine": 0.999, "end_to_end_ms": 600.0}


@dataclass(frozen=True)
class BenchConfig:
    """What to measure and how much of it; the defaults are the full benchmark, ``quick()`` the one CI runs."""

    rerank_queries: int = 4  # each one is `depth` pairs, scored in one call
    depth: int = 100
    repeats: int = 3
    embed_docs: int = 1000
    corpus_size: int = 10_000
    end_to_end_queries: int = 10
    sample: Path = SAMPLE_DATA
    # a second BEIR folder of real text; None: the sample data alone
    extra_data: Path | None = None
    device: str = "auto"
    # also time the engine's other ways of running a reranker (bf16 OpenVINO, bf16 PyTorch), for comparison
    compare_alternatives: bool = True
    # the cascade (explorer.bench.cascade): this small reranker (a name or folder) on every candidate, the default
    # reranker on its top `keep`, for each of cascade_keeps, on each data set's test split; None: not measured
    cascade_small: str | None = None
    cascade_keeps: tuple[int, ...] = (5, 10, 15, 20, 30, 50)
    # the rerankers read each long document's best window of this many tokens (explorer.rerank.windows; None: whole)
    cascade_window: int | None = None
    cascade_end_to_end_keep: int = 20  # M of the cascade timed end to end (with cascade_small)
    # also time the peers on the same pairs: sentence-transformers' ONNX and OpenVINO backends where they install,
    # beside the naive baseline and the engine (explorer.bench.peers)
    peers: bool = True

    @classmethod
    def quick(cls, **overrides: Any) -> "BenchConfig":
        """Small sizes for CI: the same code paths in well under a minute of model time."""
        return replace(cls(rerank_queries=2, depth=16, repeats=1, embed_docs=48, corpus_size=300,
                           end_to_end_queries=2, compare_alternatives=False, peers=False), **overrides)

    def __post_init__(self) -> None:
        if min(self.rerank_queries, self.depth, self.repeats, self.embed_docs, self.corpus_size,
               self.end_to_end_queries) < 1:
            raise ConfigError("Every benchmark size must be at least 1.")
        if self.depth < 10:
            raise ConfigError(f"The top-10 overlap needs at least 10 candidates per query; depth is {self.depth}.")


def goals_met(rerank: RerankBench, embed: EmbedBench, end_to_end: EndToEndBench) -> dict[str, bool]:
    """Which of the benchmark's goals this run met, by report key; they are reported, never asserted.

    - ``rerank_5x``: the engine reranks a query's candidates at least 5x faster than the naive fp32 baseline,
      because reranking is the stage a user waits for on every search.
    - ``rerank_faithful``: it ranks as fp32 does (Spearman at least 0.99 and top-10 overlap at least 0.9 on
      every query), because speed bought by reordering the results would change what the explorer shows.
    - ``embed_2x``: the engine embeds documents at least 2x faster than the baseline, because embedding a new
      corpus is the longest wait before a first search.
    - ``embed_faithful``: every engine vector has a cosine of at least 0.999 with the fp32 vector, so an index
      built by the engine retrieves what the fp32 model would.
    - ``end_to_end_under_600ms``: a warm, unseen query through every stage takes under 600 ms (median), so the
      explorer answers while its user is still looking at the page.
    """
    return {
        "rerank_5x": rerank.speedup >= GOALS["rerank_speedup"],
        "rerank_faithful": rerank.spearman >= GOALS["rerank_spearman"]
        and rerank.top10_overlap >= GOALS["rerank_top10_overlap"],
        "embed_2x": embed.speedup >= GOALS["embed_speedup"],
        "embed_faithful": embed.min_cosine >= GOALS["embed_min_cosine"],
        "end_to_end_under_600ms": end_to_end.total.median_ms < GOALS["end_to_end_ms"],
    }


def run_benchmark(config: BenchConfig, settings: Settings, say: Say = lambda text: None) -> BenchReport:
    """Runs every measurement of ``config`` and returns the report; ``say`` receives one line of progress at a time."""
    device = choose_device(config.device)  # type: ignore[arg-type]
    load_before = load_average()
    say(f"device: {device.label} ({device.reason}); load average {load_before}")
    sources = load_sources(config.sample, config.extra_data)
    say("data: " + ", ".join(f"{d.name} ({len(d.documents)} documents)" for d in sources))
    cases = rerank_cases(sources, config.rerank_queries, config.depth)
    rerank = bench_rerank(settings, device, cases, repeats=config.repeats,
                          compare_alternatives=config.compare_alternatives, say=say)
    peers = bench_peers(settings, device, cases, repeats=config.repeats, say=say) if config.peers else {}
    embed = bench_embed(settings, device, embedding_texts(sources, config.embed_docs), repeats=config.repeats, say=say)
    end_to_end, index = bench_end_to_end(settings, device, sources, corpus_size=config.corpus_size,
                                         depth=config.depth, queries=config.end_to_end_queries, say=say,
                                         cascade_small=_small_reranker(config, settings),
                                         cascade_keep=config.cascade_end_to_end_keep,
                                         cascade_window=config.cascade_window)
    cascade = run_cascade(config, settings, sources_of(config), say) if config.cascade_small else {}
    machine = describe_machine(device, load_before)
    return BenchReport(machine, {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
                       rerank, embed, end_to_end, index, goals_met(rerank, embed, end_to_end), peers, cascade)


def _small_reranker(config: BenchConfig, settings: Settings) -> Any:
    """The cascade's small reranker, loaded (None without one)."""
    from explorer.models.resolution import load_reranker

    if not config.cascade_small:
        return None
    return load_reranker(config.cascade_small, choose_device(config.device), settings)  # type: ignore[arg-type]


def sources_of(config: BenchConfig) -> list[Path]:
    """The folders the benchmark reads: the sample data, and the second data set when there is one."""
    return [config.sample] + ([config.extra_data] if config.extra_data is not None else [])


def run_cascade(config: BenchConfig, settings: Settings, folders: list[Path],
                say: Say = lambda text: None) -> dict[str, dict[str, Any]]:
    """The cascade benchmark on each folder's test split at ``config.depth`` (dense first stage, the default
    bi-encoder and reranker, blended as the reranker's card says), by data set name."""
    from explorer.bench.cascade import bench_cascade
    from explorer.rerank.windows import WindowOptions
    from explorer.loading import load_beir
    from explorer.models.resolution import load_bi_encoder, load_reranker
    from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER
    from explorer.spec import index_corpus

    if not config.cascade_small:
        raise ConfigError("The cascade benchmark needs a small reranker: give one with --small.")
    device = choose_device(config.device)  # type: ignore[arg-type]
    bi = load_bi_encoder(DEFAULT_BI_ENCODER, device, settings)
    main = load_reranker(DEFAULT_RERANKER, device, settings)
    small = load_reranker(config.cascade_small, device, settings)
    results = {}
    for folder in folders:
        dataset = load_beir(folder)
        split = "test" if "test" in dataset.splits else (dataset.splits[0] if dataset.splits else "")
        if not split:
            say(f"cascade: {dataset.name} has no labels; skipped")
            continue
        pipeline = index_corpus(dataset, bi, None, settings)
        if config.cascade_window:
            pipeline = pipeline.with_window(WindowOptions(config.cascade_window))
        measured = bench_cascade(pipeline, main, small, split, config.depth, config.cascade_keeps,
                                 blend=main.info.recommended_blend, say=say)
        results[dataset.name] = measured.to_json()
    return results
