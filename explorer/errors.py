"""Project exceptions. Every message names the problem and what to do about it."""


class ExplorerError(Exception):
    """Base class for errors the explorer reports to its user."""


class DataLoadError(ExplorerError):
    """A corpus, query file or label file could not be read."""


class ModelLoadError(ExplorerError):
    """A bi-encoder or reranker could not be loaded."""


class ConfigError(ExplorerError):
    """A setting has a value the explorer cannot use."""


class AttentionUnavailableError(ExplorerError):
    """A reranker cannot return its attention weights for a (query, document) pair."""


class BackendUnavailableError(ExplorerError):
    """A fast inference backend (OpenVINO) cannot be used here; the message says why and how to enable it."""


class RemoteServiceError(ExplorerError):
    """A remote reranking service (a vendor's rerank API, or a rerank endpoint) could not be reached, refused the
    request, or answered with something that is not reranker scores; the message says what to do. It never holds
    an API key."""


class DamagedFileError(ExplorerError):
    """A file the explorer keeps (the judgements, a score store) is damaged and could not be used or set right; the
    message says where it is and what to do."""
