"""The command line's arguments: one sub-command per batch job, with the same choices as the sidebar."""

from __future__ import annotations

import argparse

from explorer.inference.device import DEVICE_CHOICES
from explorer.loading.tables import DELIMITER_CHOICES
from explorer.retrieval.first_stage import FIRST_STAGE_METHODS
from explorer.settings import SAMPLE_DATA


def build_parser() -> argparse.ArgumentParser:
    """Every sub-command and its options (``python -m explorer COMMAND --help``)."""
    parser = argparse.ArgumentParser(prog="python -m explorer", description="Two-stage retrieval explorer")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data", default=str(SAMPLE_DATA), help="BEIR folder (default: the sample data)")
        sub.add_argument("--bi-encoder", default="default", help="hub id or folder; 'default' = the app's choice")
        sub.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES))
        sub.add_argument("--trust-remote-code", action="store_true", help="allow the models' own code to run")

    def pipeline(sub: argparse.ArgumentParser) -> None:
        """The options that decide a ranking, as the sidebar has them."""
        common(sub)
        sub.add_argument("--first-stage", choices=list(FIRST_STAGE_METHODS), default="dense",
                         help="dense (bi-encoder + FAISS), bm25, hybrid (reciprocal rank fusion of both), or milvus")
        milvus = sub.add_argument_group("Milvus (with --first-stage milvus)")
        milvus.add_argument("--milvus-uri", default="", metavar="URI",
                            help="a milvus-lite folder, or a server such as http://host:19530 (default: "
                                 "EXPLORER_MILVUS_URI, else milvus.db in the cache folder); the token is read from "
                                 "MILVUS_TOKEN")
        milvus.add_argument("--collection", default="", metavar="NAME",
                            help="attach this existing collection, read only, instead of building one from --data "
                                 "(whose queries and labels are still used)")
        for role in ("id", "text", "title", "vector"):
            milvus.add_argument(f"--{role}-field", default="", metavar="FIELD",
                                help=f"with --collection: the field holding the {role} (default: guessed from "
                                     "the schema)")
        milvus.add_argument("--filter", default="", metavar="EXPR",
                            help='a Milvus filter applied to every search, e.g. \'source == "runbook"\'')
        sub.add_argument("--passages", type=int, metavar="TOKENS", default=None,
                         help="split long documents into passages of this many tokens (a document scores as its "
                              "best passage)")
        sub.add_argument("--passage-overlap", type=int, metavar="TOKENS", default=50,
                         help="tokens shared by neighbouring passages (with --passages; default 50)")

    load = commands.add_parser("load", help="read and check a corpus in any supported format; print the report")
    load.add_argument("--kind", required=True, choices=["beir", "table", "text_folder", "text_zip", "lines",
                                                        "ir_datasets"])
    load.add_argument("source", help="folder, file, or ir_datasets id")
    load.add_argument("--format", choices=["jsonl", "csv", "tsv", "parquet"], help="table format (default: by suffix)")
    load.add_argument("--id-column")
    load.add_argument("--title-column")
    load.add_argument("--text-column", help="with a table: the text column (default: guessed)")
    load.add_argument("--delimiter", choices=list(DELIMITER_CHOICES),
                      help="with a CSV or TSV table: the delimiter (default: sniffed from the first lines)")
    load.add_argument("--queries", help="queries file (JSONL, TSV or CSV)")
    load.add_argument("--labels", help="labels file (TREC qrels or BEIR TSV)")
    load.add_argument("--split", default="test", help="split name for --labels")
    load.add_argument("--save", action="store_true", help="save it for the app (in the cache folder)")
    load.add_argument("--json", action="store_true", help="print the report as JSON")

    build = commands.add_parser("build-default-reranker",
                                help="train the default offline reranker on the sample data (a few minutes)")
    build.add_argument("--if-needed", action="store_true",
                       help="only when it is missing and the hub (with pretrained cross-encoders) is out of reach")
    build.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    build.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES))

    small = commands.add_parser("build-small-reranker",
                                help="distil a 2-layer student of a reranker for the cascade (a few minutes)")
    small.add_argument("--data", default=str(SAMPLE_DATA),
                       help="BEIR folder whose corpus it learns from (default: the sample data); its test labels are "
                            "never read")
    small.add_argument("--teacher", default="default", help="the reranker to imitate (default: the default one)")
    small.add_argument("--layers", type=int, default=2, help="transformer layers the student keeps (default 2)")
    small.add_argument("--steps", type=int, default=150, help="training steps (default 150)")
    small.add_argument("--max-length", type=int, default=256,
                       help="tokens of query and document it reads (default 256; fewer is faster, and it reads less)")
    small.add_argument("--out", default=None, help="folder to save it in (default: the models folder's "
                                                   "small-reranker, which the sidebar's cascade uses)")
    small.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES))

    trainer = commands.add_parser("train", help="fine-tune a reranker and report held-out nDCG@10 before and after")
    common(trainer)
    trainer.add_argument("--split", default="train", help="labelled split to train on")
    trainer.add_argument("--held-out", default="test", help="labelled split to measure on (never trained on)")
    trainer.add_argument("--held-out-share", type=float, default=None,
                         help="with one labelled split: hold out this share of its queries (e.g. 0.33)")
    trainer.add_argument("--no-labels", action="store_true", help="train on pseudo-queries only")
    trainer.add_argument("--pseudo", choices=["none", "title", "sentence"], default="none",
                         help="add pseudo-queries made from the corpus (needed with --no-labels)")
    trainer.add_argument("--pseudo-limit", type=int, default=None, help="at most this many pseudo-queries")
    trainer.add_argument("--base", default="packaged", help="encoder to start from: 'packaged', a folder or hub id")
    trainer.add_argument("--head", choices=["joint-cosine", "classifier"], default="joint-cosine")
    trainer.add_argument("--loss", choices=["listwise", "graded-listwise", "pointwise"], default="listwise",
                         help="graded-listwise (ListNet) keeps labelled near-misses above unrelated text")
    trainer.add_argument("--teacher", help="distil this trained reranker (hub id, folder or 'default'); "
                                           "implies --loss distill")
    trainer.add_argument("--student-layers", type=int, default=None,
                         help="a smaller student: keep only this many lower layers of the base encoder")
    trainer.add_argument("--frozen-layers", type=int, default=0,
                         help="freeze the embeddings and this many lower layers (faster, less forgetting)")
    trainer.add_argument("--steps", type=int, default=200)
    trainer.add_argument("--lr", type=float, default=5e-5)
    trainer.add_argument("--max-length", type=int, default=256)
    trainer.add_argument("--depth", type=int, default=100, help="candidates per held-out query")
    trainer.add_argument("--out", required=True, help="folder to save the trained model in")

    def ranking(sub: argparse.ArgumentParser) -> None:
        pipeline(sub)
        sub.add_argument("--reranker", default="default", help="hub id, folder, 'default' or 'none'")
        sub.add_argument("--depth", type=int, default=100, help="first-stage candidates per query (k)")
        sub.add_argument("--blend", default="card",
                         help="the ranking score: 'card' (the blend the reranker's card recommends), 'alone' (the "
                              "reranker's score only), or the reranker's weight against the first stage, 0-1")
        sub.add_argument("--cascade", default=None, metavar="SMALL:M",
                         help="a small reranker (hub id or folder) reads every candidate and the reranker only its "
                              "top M, e.g. --cascade ~/small-reranker:20")
        sub.add_argument("--signal", action="append", default=[], metavar="SPEC",
                         help="mix a signal into the final score (repeatable): freshness:FIELD:30d:WEIGHT[:now=DATE], "
                              "authority:FIELD:WEIGHT:VALUE=W,VALUE=W[:other=W], number:FIELD:WEIGHT[:log]; or "
                              "diversify: mmr:LAMBDA, per-parent:FIELD:LIMIT. Relevance keeps 1 - the weights")
        sub.add_argument("--window", default=None, metavar="N[/STRIDE]",
                         help="the reranker reads, of a document longer than N tokens, its best N-token window for "
                              "the query (by the query's rare words) instead of its first tokens, e.g. --window 128")

    index = commands.add_parser("index", help="embed and index a corpus (fills the embedding cache)")
    pipeline(index)
    search = commands.add_parser("search", help="run one query through both stages")
    ranking(search)
    search.add_argument("query")
    search.add_argument("--top", type=int, default=10, help="results printed per stage")
    search.add_argument("--json", action="store_true", help="print the result as JSON")

    evaluation = commands.add_parser("eval", help="score both stages on a labelled split (metrics, latency, exports)")
    ranking(evaluation)
    evaluation.add_argument("--split", default="test", help="labelled split to evaluate (default: test)")
    evaluation.add_argument("--metrics", default="ndcg@10,mrr@10,recall@100,precision@10,map@100")
    evaluation.add_argument("--relevant-grade", type=int, default=1, help="lowest grade counted relevant (binary metrics)")
    evaluation.add_argument("--json", metavar="OUT", help="write the summary as JSON to this file ('-' = stdout)")
    evaluation.add_argument("--runs", metavar="DIR", help="write TREC run files of each stage into this folder")
    evaluation.add_argument("--csv", metavar="OUT", help="write the metrics table as CSV")
    evaluation.add_argument("--report", metavar="OUT", help="write a self-contained HTML report")
    evaluation.add_argument("--no-cache", action="store_true", help="rerun every query (ignore saved results)")
    evaluation.add_argument("--unjudged", choices=["not relevant", "removed"], default="not relevant",
                            help="how documents without a label count: as not relevant (the trec_eval default) or "
                                 "removed from each list before scoring (condensed lists)")
    evaluation.add_argument("--snapshot", metavar="NAME", help="save the evaluation as a snapshot under this name")
    evaluation.add_argument("--replace", action="store_true", help="with --snapshot: replace a snapshot of that name")

    story = commands.add_parser("story", help="the gain of a candidate over a baseline on a labelled split, told for "
                                              "a manager: the difference with a bootstrap interval, examples, cost")
    ranking(story)
    story.add_argument("--split", default="test", help="labelled split (default: test)")
    story.add_argument("--snapshot", metavar="A", help="the candidate: a saved snapshot (eval --snapshot NAME)")
    story.add_argument("--against", metavar="B",
                       help="with --snapshot: the baseline snapshot (without both: the first stage against the "
                            "reranked list of the pipeline the other options name)")
    story.add_argument("--metric", default="ndcg@10", help="the metric of the headline (default ndcg@10)")
    story.add_argument("--relevant-grade", type=int, default=1, help="lowest grade counted relevant (binary metrics)")
    story.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (the same seed, the same interval)")
    story.add_argument("--json", metavar="OUT", help="write the story as JSON to this file ('-' = stdout)")
    story.add_argument("--report", metavar="OUT", help="write the story as a self-contained HTML page")

    explained = commands.add_parser("explain", help="which explanation does the reranker's score follow? deletion "
                                                    "curves of attention, rollout, integrated gradients, occlusion "
                                                    "and a random order on each query's top result")
    ranking(explained)
    explained.add_argument("--split", default="test", help="labelled split (default: test)")
    explained.add_argument("--queries", type=int, default=None, metavar="N", help="the first N queries only")
    explained.add_argument("--ig-steps", type=int, default=32, help="steps of integrated gradients' integral")
    explained.add_argument("--seed", type=int, default=0, help="the random orders' seed")
    explained.add_argument("--json", metavar="OUT", help="write the summary and every pair's AUCs as JSON ('-' = "
                                                         "stdout)")

    weighed = commands.add_parser("signals", help="search the --signal weights on one labelled split and measure "
                                                  "them on another; redundancy of the top 10 with and without "
                                                  "diversity")
    ranking(weighed)
    weighed.add_argument("--tune-split", default="train", help="the split the weights are searched on (default train)")
    weighed.add_argument("--split", default="test", help="the split they are measured on (default test)")
    weighed.add_argument("--metric", default="ndcg@10", help="the metric searched and reported (default ndcg@10)")
    weighed.add_argument("--parent-field", default="", metavar="FIELD",
                         help="the field naming each document's parent, for 'distinct parents in the top 10' "
                              "(default: each document is its own)")
    weighed.add_argument("--json", metavar="OUT", help="write the results as JSON to this file ('-' = stdout)")

    exported = commands.add_parser("export", help="write the chosen pipeline as a pipeline file (JSON) a service runs")
    ranking(exported)
    exported.add_argument("--out", required=True, metavar="FILE", help="the pipeline file to write")
    exported.add_argument("--threshold", type=float, default=None,
                          help="keep results whose reranker score is at least this (on --threshold-scale)")
    exported.add_argument("--threshold-scale", choices=["raw", "probability"], default="raw",
                          help="the score the threshold applies to (probability: the calibrated probability with "
                               "--calibrate, else the sigmoid of single-logit trained rerankers)")
    exported.add_argument("--calibrate", choices=["platt", "isotonic"], default=None,
                          help="fit a map from the reranker's score to a probability of relevance on labelled "
                               "results (each query's top 10) and store it in the file")
    exported.add_argument("--calibration-split", metavar="SPLIT", default=None,
                          help="with --calibrate: the labelled split to fit it on (default: train); measured on the "
                               "--measure split when that is another one")
    exported.add_argument("--measure", metavar="SPLIT", default="",
                          help="evaluate on this labelled split and record the figures in the file")
    exported.add_argument("--snapshot", metavar="NAME", default="",
                          help="record this saved evaluation's figures (it must be of the same configuration)")

    served = commands.add_parser("serve", help="answer rerank and search requests over HTTP with a pipeline file")
    served.add_argument("--pipeline", required=True, metavar="FILE", help="the pipeline file (from export)")
    served.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: this machine only; 0.0.0.0 opens it to the network)")
    served.add_argument("--port", type=int, default=8000)
    served.add_argument("--budget-ms", type=float, default=None,
                        help="per request: past it, the answer is the first-stage order, marked fallback (default: "
                             "3 times a search measured at start, at least 5000)")
    served.add_argument("--max-documents", type=int, default=1000, help="documents per rerank request")
    served.add_argument("--max-document-chars", type=int, default=20000, help="characters per document")
    served.add_argument("--max-pending", type=int, default=64,
                        help="requests in the service at once; more are answered 503 with Retry-After")
    served.add_argument("--batch-wait-ms", type=float, default=5.0,
                        help="how long a request waits for others to share its model call")
    served.add_argument("--no-batching", action="store_true", help="one model call per request")

    bench = commands.add_parser("bench", help="time the fast rerank and embedding engine against the naive baseline")
    bench.add_argument("--json", metavar="OUT", help="write the results as JSON to this file ('-' = stdout)")
    bench.add_argument("--quick", action="store_true", help="small sizes (for CI): same code paths, seconds not minutes")
    bench.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES))
    bench.add_argument("--data", default=str(SAMPLE_DATA), help="BEIR folder of real text (default: the sample data)")
    bench.add_argument("--extra-data", metavar="DIR", default=None,
                       help="a second BEIR folder of real text, e.g. ../shared/data/cranfield; default: the setting "
                            "EXPLORER_BENCH_DATA, else none")
    bench.add_argument("--depth", type=int, default=None, help="candidates per query (default 100; 16 with --quick)")
    bench.add_argument("--corpus-size", type=int, default=None,
                       help="passages of the end-to-end corpus (default 10000; 300 with --quick)")
    bench.add_argument("--repeats", type=int, default=None, help="timed runs of each measurement (default 3)")
    bench.add_argument("--cascade-small", metavar="SMALL", default=None,
                       help="also measure the cascade with this small reranker (hub id or folder) on each data set's "
                            "test split (see bench-cascade), and end to end at --cascade-keep")
    bench.add_argument("--cascade-keep", type=int, default=20, metavar="M",
                       help="with --cascade-small: the M of the cascade timed end to end (default 20)")
    bench.add_argument("--cascade-window", type=int, default=None, metavar="N",
                       help="with --cascade-small: both rerankers read each text's best N-token window")
    cascade = commands.add_parser("bench-cascade", help="a small reranker on every candidate and the default one on "
                                                        "its top M, against the default one on every candidate: "
                                                        "nDCG@10 and time per M")
    cascade.add_argument("--small", required=True, help="the small reranker: hub id or folder")
    cascade.add_argument("--data", default=str(SAMPLE_DATA), help="BEIR folder with labels (default: the sample data)")
    cascade.add_argument("--extra-data", metavar="DIR", default=None, help="a second labelled BEIR folder")
    cascade.add_argument("--depth", type=int, default=100, help="first-stage candidates per query (default 100)")
    cascade.add_argument("--keeps", default="5,10,15,20,30,50", help="the M values to measure, comma-separated")
    cascade.add_argument("--window", type=int, default=None, metavar="N",
                         help="both rerankers read each long document's best N-token window (default: whole)")
    cascade.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES))
    cascade.add_argument("--json", metavar="OUT", help="write the results as JSON to this file ('-' = stdout)")
    judged = commands.add_parser("judgements", help="export, import or measure the agreement of the judgements "
                                                    "made on the Judge page")
    judged.add_argument("action", choices=["export", "import", "agreement", "import-queries", "ai"])
    judged.add_argument("--data", default=str(SAMPLE_DATA), help="BEIR folder (default: the sample data)")
    judged.add_argument("--out", default=None, help="export: the qrels file to write (default: stdout)")
    judged.add_argument("--rule", choices=["mean", "majority", "strictest"], default=None,
                        help="export: how several raters' grades become one (default: the data set's rule, chosen on "
                             "the Judge page; mean, rounded half up, when none was chosen)")
    judged.add_argument("--file", default=None, help="import: the TREC qrels file to read; import-queries: a text "
                                                     "file of one query per line, or a CSV with a 'query' column")
    judged.add_argument("--rater", default=None, help="import: whose grades these are")
    judged.add_argument("--sample", type=int, default=None,
                        help="import-queries: judge a random sample of this many (seeded, the same every time); ai: "
                             "grade the labelled pairs of this many queries drawn at random (seeded; default all)")
    judged.add_argument("--endpoint", default=None, help="ai: the OpenAI-compatible base URL, e.g. "
                                                         "http://127.0.0.1:11434/v1 (default: EXPLORER_LLM_URL)")
    judged.add_argument("--model", default=None, help="ai: the chat model (default: EXPLORER_LLM_MODEL)")
    judged.add_argument("--split", default=None, help="ai: the split whose labelled queries are graded (default: "
                                                      "test if there is one, else the first)")
    judged.add_argument("--key-variable", default=None,
                        help="ai: the environment variable holding the key (default: EXPLORER_LLM_KEY_VARIABLE, else "
                             "OPENAI_API_KEY; a local server needs none). The key is never printed or saved.")
    judged.add_argument("--concurrency", type=int, default=None, help="ai: requests in flight at once (default 4)")
    judged.add_argument("--price-in", type=float, default=None, help="ai: US dollars per 1M input tokens, for the cost")
    judged.add_argument("--price-out", type=float, default=None, help="ai: US dollars per 1M output tokens")
    judged.add_argument("--instructions", default=None,
                        help="ai: a text file with the judge's instructions, in place of the default ones (the scale, "
                             "the guidelines and the answer format are added to them)")
    judged.add_argument("--plan", action="store_true", help="ai: print the calls, tokens and cost, and stop")
    snapshots = commands.add_parser("snapshots", help="list saved evaluations, or compare two or more")
    snapshots.add_argument("action", choices=["list", "diff"])
    snapshots.add_argument("names", nargs="*", help="diff: the snapshots to compare, the first as the baseline")
    snapshots.add_argument("--metric", default="ndcg@10", help="diff: the metric of the per-query changes")
    snapshots.add_argument("--json", metavar="OUT", help="diff: write the comparison as JSON ('-' = stdout)")
    scale = commands.add_parser("bench-scale", help="FAISS HNSW and milvus-lite on many vectors (default 1,000,000): "
                                                   "build time, memory, p50/p95 latency, recall@k against exact")
    scale.add_argument("--vectors", type=int, default=1_000_000)
    scale.add_argument("--queries", type=int, default=200)
    scale.add_argument("-k", type=int, default=100)
    scale.add_argument("--milvus-queries", type=int, default=50,
                       help="milvus-lite (FLAT) is timed on the first this many queries only (default 50)")
    scale.add_argument("--noise", type=float, default=0.03, help="Gaussian noise per dimension added to each mix")
    scale.add_argument("--backends", nargs="+", choices=["faiss-hnsw", "milvus-lite"],
                       default=["faiss-hnsw", "milvus-lite"])
    scale.add_argument("--data", default=str(SAMPLE_DATA), help="BEIR folder whose passages seed the vectors")
    scale.add_argument("--extra-data", metavar="DIR", default=None, help="a second BEIR folder (e.g. Cranfield)")
    scale.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES))
    scale.add_argument("--json", metavar="OUT", help="write the results as JSON to this file ('-' = stdout)")

    sessions = commands.add_parser("bench-sessions",
                                   help="time several sessions querying at once, with shared model calls and without")
    sessions.add_argument("--sessions", type=int, default=10, help="sessions querying at the same moment (default 10)")
    sessions.add_argument("--depth", type=int, default=100, help="candidates each session reranks (default 100)")
    sessions.add_argument("--device", default="auto", choices=list(DEVICE_CHOICES))
    sessions.add_argument("--json", metavar="OUT", help="write the results as JSON to this file ('-' = stdout)")
    load = commands.add_parser("bench-serve", help="many clients at once against serve on this machine: latency, "
                                                   "throughput and memory, with micro-batching and without")
    load.add_argument("--pipeline", required=True, metavar="FILE", help="the pipeline file to serve")
    load.add_argument("--clients", type=int, default=50, help="clients sending at once (default 50)")
    load.add_argument("--seconds", type=float, default=60.0, help="how long each way is loaded (default 60)")
    load.add_argument("--documents", type=int, default=10, help="documents per rerank request (default 10)")
    load.add_argument("--budget-ms", type=float, default=120_000.0,
                      help="the service's time budget (default: large, so latency is measured, not cut)")
    load.add_argument("--ways", choices=["both", "batched", "unbatched"], default="both",
                      help="micro-batching, one call per request, or both one after the other (default)")
    load.add_argument("--json", metavar="OUT", help="write the results as JSON to this file ('-' = stdout)")
    return parser
