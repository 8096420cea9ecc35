"""Migration SQL, read with PostgreSQL's own parser (pglast).

- :func:`analyse` / :func:`split_statements`: the statements of a file, whether
  each can run inside a transaction, whether it destroys data, and which indexes it
  builds CONCURRENTLY;
- :mod:`.rollback` (imported on its own, by ``generate`` only): the down SQL
  ``kubemigrate generate`` proposes, with the statements it could not invert listed
  rather than guessed.

Pure: no I/O. pglast is imported here only, so importing the rest of the domain
stays cheap.
"""

from .analysis import AnalysedSql, IndexBuild, Statement, analyse, split_statements
from .parsing import NO_TRANSACTION_DIRECTIVE, SqlSyntaxError, check_syntax, statement_spans

__all__ = [
    "NO_TRANSACTION_DIRECTIVE",
    "AnalysedSql",
    "IndexBuild",
    "SqlSyntaxError",
    "Statement",
    "analyse",
    "check_syntax",
    "split_statements",
    "statement_spans",
]
