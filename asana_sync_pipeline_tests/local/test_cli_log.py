"""The command line's run log: one line per message, the step named, stack traces left out."""

import logging

from asana_sync_pipeline.local.cli_log import OneLineFormatter


def record(message: str, **meta: object) -> logging.LogRecord:
    entry = logging.LogRecord("dagster", logging.ERROR, __file__, 1, "job - run - step - " + message, None, None)
    entry.dagster_meta = {"orig_message": message, **meta}
    return entry


def test_a_message_is_its_first_line_after_the_time_and_step():
    shown = OneLineFormatter().format(record('Execution of step "asana_tasks" failed.\n\nStack Trace:\n  File ...', step_key="asana_tasks"))
    assert shown.endswith(' asana_tasks: Execution of step "asana_tasks" failed.') and "\n" not in shown


def test_a_run_level_message_has_no_step_and_a_plain_record_keeps_its_text():
    assert OneLineFormatter().format(record("Started execution of run")).endswith(" Started execution of run")
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "plain text", None, None)
    assert OneLineFormatter().format(plain).endswith(" plain text")
