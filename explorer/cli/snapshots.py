"""``python -m explorer snapshots list|diff``: saved evaluations (``eval --snapshot NAME``) listed and compared."""

from __future__ import annotations

import argparse
import datetime as dt

from explorer.cli.output import emit, write_json
from explorer.errors import ConfigError
from explorer.settings import Settings

DIFF_METRICS = ("ndcg@10", "mrr@10", "recall@100", "map")


def snapshots(args: argparse.Namespace) -> int:
    """Lists the snapshots, or prints two or more side by side with the per-query changes against the first."""
    from explorer.evaluation.snapshots import SnapshotStore, diff

    store = SnapshotStore(Settings.from_env().snapshots_path)
    if args.action == "list":
        for name in store.names():
            snapshot = store.get(name)
            when = dt.datetime.fromtimestamp(snapshot.saved_at).strftime("%Y-%m-%d %H:%M")
            emit(f"{name}\t{snapshot.dataset}\t{when}\t{snapshot.evaluation.name}\t{len(snapshot.evaluation.outcomes)} "
                  f"queries\t{snapshot.label_version}")
        return 0
    if len(args.names) < 2:
        raise ConfigError("snapshots diff needs two names or more: snapshots diff BEFORE AFTER.")
    metrics = list(dict.fromkeys([args.metric, *DIFF_METRICS]))
    result = diff([store.get(name) for name in args.names], metrics, args.metric)
    width = max(len(name) for name in result.names)
    emit("metric".ljust(12) + "".join(name.rjust(width + 2) for name in result.names))
    for metric, values in result.metrics.items():
        emit(metric.ljust(12) + "".join(f"{values[name]:.4f}".rjust(width + 2) for name in result.names))
    for name, changes in result.per_query.items():
        better = sum(1 for change in changes.values() if change > 0)
        worse = sum(1 for change in changes.values() if change < 0)
        emit(f"{name} against {result.names[0]} ({args.metric}): {better} queries better, {worse} worse, "
              f"{len(changes) - better - worse} the same")
        for query_id, change in sorted(changes.items(), key=lambda item: item[1])[:5]:
            if change < 0:
                emit(f"  {query_id}: {change:+.4f}")
    if args.json:
        write_json({"names": result.names, "metrics": result.metrics, "per_query": result.per_query,
                    "metric": result.metric}, args.json, "comparison")
    return 0
