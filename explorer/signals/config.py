"""A signal configuration: which signals join the reranker's score, with what weights, and how results are diversified.

The final score of a result is ``relevance_weight x relevance + sum(weight x signal)``, where relevance is the
ranking score normalised to 0-1 over the list and each signal is 0-1 too, so the parts add up to a score from 0 to 1
and each part is the signal's contribution. ``relevance_weight`` is what the signals' weights leave: 1 - their sum.

Forms: the command line's ``--signal`` strings (``parse_signal``), and JSON objects (``to_json``/``from_json``) for
the pipeline file and the service. A configuration is ``resolved`` against a corpus before it ranks: freshness's
"now" and a number's range are then written in it, so the same configuration ranks the same anywhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal, Mapping, Sequence, Union

from explorer.errors import ConfigError
from explorer.records import Document
from explorer.signals.dates import read_date
from explorer.signals.fields import date_values, number_values

DiversityMode = Literal["mmr", "per-parent"]
RELEVANCE = "relevance"


@dataclass(frozen=True)
class Freshness:
    """Newer first: a document's value is 0.5 ** (age in days / half-life), age counted from ``now`` back to the date
    in ``field`` (a date after ``now`` counts as age 0; no readable date: 0)."""

    field: str
    half_life_days: float
    weight: float
    now: date | None = None  # None until resolved: the newest date in the field

    kind = "freshness"

    @property
    def label(self) -> str:
        """The name of the signal in charts and tables."""
        return f"freshness ({self.field})"

    def check(self) -> None:
        """A ConfigError when the half-life is not a positive number of days."""
        if not self.half_life_days > 0:
            raise ConfigError(f"The freshness half-life must be more than 0 days; got {self.half_life_days}.")


@dataclass(frozen=True)
class Authority:
    """A weight (0-1) per value of ``field``, e.g. status current 1, draft 0.3, archived 0; ``other`` for values not
    listed and for documents without the field."""

    field: str
    weight: float
    values: tuple[tuple[str, float], ...]
    other: float = 0.0

    kind = "authority"

    @property
    def label(self) -> str:
        """The name of the signal in charts and tables."""
        return f"authority ({self.field})"

    def check(self) -> None:
        """A ConfigError when a value's weight is outside 0-1."""
        for value, weight in (*self.values, ("(other)", self.other)):
            if not 0.0 <= weight <= 1.0:
                raise ConfigError(f"Authority weights are from 0 to 1; {self.field}={value} has {weight}.")

    def value_of(self, text: str | None) -> float:
        """The weight of one document's value (``other`` where it is not listed)."""
        return dict(self.values).get((text or "").strip(), self.other)


@dataclass(frozen=True)
class NumberSignal:
    """Any numeric field, higher better: (value - low) / (high - low), or on log(1 + value) with ``log``; the range is
    the corpus's unless given; no readable value: 0."""

    field: str
    weight: float
    log: bool = False
    low: float | None = None
    high: float | None = None

    kind = "number"

    @property
    def label(self) -> str:
        """The name of the signal in charts and tables."""
        return f"{self.field}" + (" (log)" if self.log else "")

    def check(self) -> None:
        """A ConfigError when a log signal's range goes below 0."""
        if self.log and self.low is not None and self.low < 0:
            raise ConfigError(f"{self.field}: a log scale needs values of 0 or more; the lowest is {self.low:g}.")

    def scaled(self, value: float | None) -> float:
        """``value`` on 0-1 within the range (clipped); 0 for no value or an empty range."""
        if value is None or self.low is None or self.high is None:
            return 0.0
        low, high, value = (self.low, self.high, value) if not self.log else \
            (math.log1p(max(self.low, 0.0)), math.log1p(max(self.high, 0.0)), math.log1p(max(value, 0.0)))
        if high <= low:
            return 0.0
        return min(max((value - low) / (high - low), 0.0), 1.0)


Signal = Union[Freshness, Authority, NumberSignal]


@dataclass(frozen=True)
class Diversity:
    """How results are diversified after the signals: ``mmr`` (maximal marginal relevance on the bi-encoder's vectors:
    each next result maximises lambda x score - (1 - lambda) x its highest cosine to those above it) or
    ``per-parent`` (at most ``limit`` results per value of ``field``, e.g. the page a passage came from; the rest move
    below, in order)."""

    mode: DiversityMode
    lambda_: float = 0.7
    field: str = ""
    limit: int = 2

    def check(self) -> None:
        """A ConfigError for a lambda outside 0-1, a limit below 1 or a per-parent cap without a field."""
        if self.mode not in ("mmr", "per-parent"):
            raise ConfigError(f"Unknown diversity {self.mode!r}; use mmr or per-parent.")
        if self.mode == "mmr" and not 0.0 <= self.lambda_ <= 1.0:
            raise ConfigError(f"MMR's lambda is from 0 (diversity only) to 1 (score only); got {self.lambda_}.")
        if self.mode == "per-parent" and (self.limit < 1 or not self.field):
            raise ConfigError("A per-parent cap needs a field naming the parent and a limit of at least 1, e.g. "
                              "per-parent:page:2.")

    @property
    def label(self) -> str:
        """How the diversity step is named on the pages."""
        return f"MMR, lambda {self.lambda_:g}" if self.mode == "mmr" else \
            f"at most {self.limit} per {self.field}"


@dataclass(frozen=True)
class SignalConfig:
    """Signals with their weights, and an optional diversity step. Empty: relevance alone."""

    signals: tuple[Signal, ...] = ()
    diversity: Diversity | None = None

    def __post_init__(self) -> None:
        for signal in self.signals:
            if not 0.0 <= signal.weight <= 1.0:
                raise ConfigError(f"A signal's weight is from 0 to 1; {signal.label} has {signal.weight}.")
            signal.check()
        if self.relevance_weight < -1e-9:
            raise ConfigError(f"The signals' weights add up to {1 - self.relevance_weight:.2f}; they must leave "
                              "relevance its share (at most 1 in all). Lower some of them.")
        labels = [signal.label for signal in self.signals]
        if len(set(labels)) != len(labels):
            raise ConfigError("The same signal is listed twice: " + ", ".join(sorted(
                {label for label in labels if labels.count(label) > 1})) + ".")
        if self.diversity is not None:
            self.diversity.check()

    @property
    def relevance_weight(self) -> float:
        """The share of the final score that is relevance: 1 - the signals' weights."""
        return 1.0 - sum(signal.weight for signal in self.signals)

    @property
    def active(self) -> bool:
        """Whether it changes anything: a signal with a weight, or a diversity step."""
        return any(signal.weight > 0 for signal in self.signals) or self.diversity is not None

    @property
    def fields(self) -> tuple[str, ...]:
        """The metadata fields the signals and the diversity step read."""
        named = [signal.field for signal in self.signals]
        if self.diversity is not None and self.diversity.field:
            named.append(self.diversity.field)
        return tuple(dict.fromkeys(named))

    def describe(self) -> str:
        """One line: each signal's weight, and the diversity step."""
        parts = [f"{RELEVANCE} {self.relevance_weight:.2f}"] + \
            [f"{signal.label} {signal.weight:.2f}" for signal in self.signals]
        if self.diversity is not None:
            parts.append(self.diversity.label)
        return ", ".join(parts)

    def with_weights(self, weights: Sequence[float]) -> "SignalConfig":
        """The same signals with these weights, in order."""
        if len(weights) != len(self.signals):
            raise ConfigError(f"{len(weights)} weights for {len(self.signals)} signals.")
        return replace(self, signals=tuple(replace(s, weight=float(w)) for s, w in zip(self.signals, weights)))

    def resolved(self, documents: Sequence[Document]) -> "SignalConfig":
        """The configuration with freshness's "now" (the newest date in its field) and each number's range (the
        lowest and highest value) read from ``documents`` wherever they are not set."""
        signals: list[Signal] = []
        for signal in self.signals:
            if isinstance(signal, Freshness) and signal.now is None:
                dates = date_values(documents, signal.field)[0]
                signal = replace(signal, now=max(dates.values()) if dates else None)
            elif isinstance(signal, NumberSignal) and (signal.low is None or signal.high is None):
                numbers = list(number_values(documents, signal.field)[0].values())
                signal = replace(signal, low=signal.low if signal.low is not None else min(numbers, default=None),
                                 high=signal.high if signal.high is not None else max(numbers, default=None))
                signal.check()
            signals.append(signal)
        return replace(self, signals=tuple(signals))

    def to_json(self) -> dict[str, Any]:
        """The configuration as a JSON object (the pipeline file, the service)."""
        return {"signals": [_signal_json(signal) for signal in self.signals],
                "diversity": None if self.diversity is None else {
                    "mode": self.diversity.mode, "lambda": self.diversity.lambda_, "field": self.diversity.field,
                    "limit": self.diversity.limit}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> "SignalConfig":
        """The configuration from ``to_json``'s form; a ConfigError names what is wrong."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError("signals must be a JSON object with 'signals' (a list) and 'diversity'.")
        try:
            signals = tuple(_signal_from_json(item) for item in raw.get("signals") or ())
            diversity = raw.get("diversity")
            return cls(signals, None if not diversity else Diversity(
                mode=diversity["mode"], lambda_=float(diversity.get("lambda", 0.7)),
                field=str(diversity.get("field", "")), limit=int(diversity.get("limit", 2))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"A signal in the configuration cannot be read ({exc!r}); see to_json's form, e.g. "
                              '{"kind": "freshness", "field": "updated", "half_life_days": 30, "weight": 0.15}.') \
                from None


def _signal_json(signal: Signal) -> dict[str, Any]:
    """One signal as a JSON object."""
    if isinstance(signal, Freshness):
        return {"kind": "freshness", "field": signal.field, "half_life_days": signal.half_life_days,
                "weight": signal.weight, "now": signal.now.isoformat() if signal.now else None}
    if isinstance(signal, Authority):
        return {"kind": "authority", "field": signal.field, "weight": signal.weight,
                "values": dict(signal.values), "other": signal.other}
    return {"kind": "number", "field": signal.field, "weight": signal.weight, "log": signal.log,
            "low": signal.low, "high": signal.high}


def _signal_from_json(raw: Mapping[str, Any]) -> Signal:
    """One signal from ``_signal_json``'s form."""
    kind = raw["kind"]
    if kind == "freshness":
        now = raw.get("now")
        when = read_date(str(now)).date if now else None
        if now and when is None:
            raise ValueError(f"freshness 'now' {now!r} is not a date (use YYYY-MM-DD)")
        return Freshness(str(raw["field"]), float(raw["half_life_days"]), float(raw["weight"]), when)
    if kind == "authority":
        values = raw.get("values") or {}
        return Authority(str(raw["field"]), float(raw["weight"]),
                         tuple((str(k), float(v)) for k, v in dict(values).items()), float(raw.get("other", 0.0)))
    if kind == "number":
        low, high = raw.get("low"), raw.get("high")
        return NumberSignal(str(raw["field"]), float(raw["weight"]), bool(raw.get("log", False)),
                            None if low is None else float(low), None if high is None else float(high))
    raise ValueError(f"unknown signal kind {kind!r} (freshness, authority or number)")


SIGNAL_FORMS = ("freshness:FIELD:HALF-LIFEd:WEIGHT[:now=YYYY-MM-DD]",
                "authority:FIELD:WEIGHT:VALUE=W,VALUE=W[:other=W]",
                "number:FIELD:WEIGHT[:log]", "mmr:LAMBDA", "per-parent:FIELD:LIMIT")
_DAYS = re.compile(r"^(\d+(?:\.\d+)?)\s*(d|days?|w|weeks?|y|years?)?$")


def parse_signals(texts: Sequence[str]) -> SignalConfig:
    """The configuration the command line's ``--signal`` strings give (``SIGNAL_FORMS``); at most one diversity."""
    signals: list[Signal] = []
    diversity: Diversity | None = None
    for text in texts:
        parsed = parse_signal(text)
        if isinstance(parsed, Diversity):
            if diversity is not None:
                raise ConfigError("Give one diversity step (mmr or per-parent), not two.")
            diversity = parsed
        else:
            signals.append(parsed)
    return SignalConfig(tuple(signals), diversity)


def parse_signal(text: str) -> Signal | Diversity:
    """One ``--signal`` string (see ``SIGNAL_FORMS``)."""
    parts = [part.strip() for part in text.strip().split(":")]
    kind = parts[0].lower()
    try:
        if kind == "freshness" and len(parts) in (4, 5):
            now = _option(parts[4:], "now")
            when = read_date(now).date if now else None
            if now and when is None:
                raise ValueError(f"now={now!r} is not a date")
            return Freshness(parts[1], half_life_days(parts[2]), float(parts[3]), when)
        if kind == "authority" and len(parts) in (4, 5):
            values = parse_authority_values(parts[3])
            other = _option(parts[4:], "other")
            return Authority(parts[1], float(parts[2]), values, float(other) if other else 0.0)
        if kind == "number" and len(parts) in (3, 4):
            if parts[3:] and parts[3].lower() != "log":
                raise ValueError(f"{parts[3]!r}: the only option of a number signal is 'log'")
            return NumberSignal(parts[1], float(parts[2]), log=bool(parts[3:]))
        if kind == "mmr" and len(parts) == 2:
            return Diversity("mmr", lambda_=float(parts[1]))
        if kind == "per-parent" and len(parts) == 3:
            return Diversity("per-parent", field=parts[1], limit=int(parts[2]))
    except ValueError as exc:
        raise ConfigError(f"--signal {text!r}: {exc}. Forms: " + "; ".join(SIGNAL_FORMS) + ".") from None
    raise ConfigError(f"--signal {text!r} is not one of the forms: " + "; ".join(SIGNAL_FORMS) + ".")


def half_life_days(text: str) -> float:
    """A half-life such as ``30d``, ``30``, ``2w`` or ``1y``, in days."""
    match = _DAYS.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a half-life (e.g. 30d, 2w, 1y)")
    number, unit = float(match.group(1)), (match.group(2) or "d")[0]
    return number * {"d": 1, "w": 7, "y": 365}[unit]


def _option(parts: Sequence[str], name: str) -> str | None:
    """The value of ``name=VALUE`` in the optional tail of a ``--signal`` string."""
    for part in parts:
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip()
        raise ValueError(f"{part!r} is not {name}=...")
    return None


def signal_fields_missing(config: SignalConfig, documents: Sequence[Document]) -> list[str]:
    """The fields the configuration reads that no document has (a ConfigError-worthy mistake on the pages)."""
    have = {key for doc in documents for key in doc.metadata}
    return [name for name in config.fields if name not in have]



# words that suggest how much a value of an authority field is worth, for a first guess the user then edits
_TRUSTED = ("current", "official", "published", "active", "approved", "stable", "live", "docs", "documentation",
            "policy", "runbook", "reference")
_TENTATIVE = ("draft", "proposal", "proposed", "wip", "review", "pending", "beta", "rfc")
_STALE = ("archived", "archive", "superseded", "deprecated", "obsolete", "rejected", "retired", "old", "legacy",
          "expired", "withdrawn")


def suggested_authority(values: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """A first weight for each value: 1 for current/official-sounding ones, 0.3 for drafts and proposals, 0 for
    archived/superseded/deprecated ones, 0.5 for the rest; a guess from the words, shown for the user to edit."""
    suggested = []
    for value in values:
        lowered = value.strip().lower()
        weight = 0.0 if any(w in lowered for w in _STALE) else 0.3 if any(w in lowered for w in _TENTATIVE) \
            else 1.0 if any(w in lowered for w in _TRUSTED) else 0.5
        suggested.append((value, weight))
    return tuple(suggested)


def authority_text(values: Sequence[tuple[str, float]]) -> str:
    """Authority weights in the form the sidebar and ``--signal`` take: ``current=1, draft=0.3``."""
    return ", ".join(f"{value}={weight:g}" for value, weight in values)


def parse_authority_values(text: str) -> tuple[tuple[str, float], ...]:
    """``current=1, draft=0.3`` as (value, weight) pairs; a ConfigError says which part is not ``VALUE=WEIGHT``."""
    pairs = []
    for part in text.split(","):
        if not part.strip():
            continue
        value, sign, weight = part.partition("=")
        try:
            if not sign or not value.strip():
                raise ValueError
            pairs.append((value.strip(), float(weight)))
        except ValueError:
            raise ConfigError(f"{part.strip()!r} is not VALUE=WEIGHT (e.g. current=1, draft=0.3).") from None
    return tuple(pairs)
