"""citeqa's errors: one small hierarchy, translated once at each front-end's boundary."""


class CiteqaError(Exception):
    """Base of every error the library raises on purpose."""


class NoArticles(CiteqaError):
    """A corpus folder holds no usable article."""


class IndexNotFound(CiteqaError):
    """No index has been published in the index directory yet."""


class IndexCorrupt(CiteqaError):
    """A published index version is missing a file or disagrees with its manifest."""


class RefreshBusy(CiteqaError):
    """Another refresh holds the index lock."""


class BadQuestion(CiteqaError):
    """A question that cannot be asked: empty, too long, not text."""


class ModelMismatch(CiteqaError):
    """The index was embedded with a different model than the one configured for questions."""


class ReaderUnavailable(CiteqaError):
    """The reader's weights are missing, truncated or fail their checksum."""


class StoreUnavailable(CiteqaError):
    """The store the settings name cannot be reached or does not fit (URI, token, dimension)."""


class ParametersInvalid(CiteqaError):
    """parameters.json is missing, unreadable, or lacks a parameter."""
