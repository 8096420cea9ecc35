"""Migration SQL, read with PostgreSQL's own parser (pglast).

- :func:`analyse` / :func:`split_statements`: the statements of a file, whether
  each can run inside a transaction and whether it destroys data;
- :func:`infer_rollback`: the down SQL ``kubemigrate generate`` proposes, with the
  statements it could not invert listed rather than guessed.

Pure: no I/O. pglast is imported here only, so importing the rest of the domain
stays cheap.
"""

from .analysis import AnalysedSql, Statement, analyse, split_statements
from .parsing import NO_TRANSACTION_DIRECTIVE, SqlSyntaxError, check_syntax
from .rollback import BREAKPOINT, InferredRollback, infer_rollback

__all__ = [
    "BREAKPOINT",
    "NO_TRANSACTION_DIRECTIVE",
    "AnalysedSql",
    "InferredRollback",
    "SqlSyntaxError",
    "Statement",
    "analyse",
    "check_syntax",
    "infer_rollback",
    "split_statements",
]
