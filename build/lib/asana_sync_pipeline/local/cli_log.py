"""The command line's run log: one line per message, without Dagster's debug events or
framework stack traces (the command line prints each failure's reason after the run)."""

from __future__ import annotations

import logging
import sys

import dagster as dg


class OneLineFormatter(logging.Formatter):
    """A run's log as the command line shows it: time, step and the message's first line. Failures
    are summarised with their reasons after the run, so framework stack traces stay out."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        lines = str(meta.get("orig_message") or record.getMessage()).strip().splitlines()
        step = meta.get("step_key")
        return f"{self.formatTime(record, '%H:%M:%S')} {step + ': ' if step else ''}{lines[0] if lines else ''}"


@dg.logger(description="One line per message, INFO and above, on standard output.")  # type: ignore[call-overload]
def one_line_console(_: dg.InitLoggerContext) -> logging.Logger:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLineFormatter())
    logger = logging.Logger("asana_sync_pipeline.cli", level=logging.INFO)
    logger.addHandler(handler)
    return logger
