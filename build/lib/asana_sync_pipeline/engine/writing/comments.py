"""Comments, exactly once: a row's `comment` is posted as a story when its text changes.

Posting a story is not idempotent: a retry after a lost answer would comment
twice. So, as for creates, each comment's intent is committed before the POST;
an unclear answer (timeout, reset, 5xx), or an intent left by a crashed run, is
settled by reading the task's stories and looking for that text posted since
the attempt; only a comment that is not there is posted again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from ..asana.client import AsanaClient
from ..errors import AsanaError, NotFoundError
from ..observing.matching import CLOCK_SKEW
from ..observing.task_values import parse_time, plain_text
from ..state import CommentIntent, Outcome, utc_now
from .context import RunContext
from .failures import field_of, reason_for, unclear_or_refused

STORY_FIELDS = ["text", "resource_subtype", "created_at"]


async def posted_since(client: AsanaClient, intent: CommentIntent) -> bool:
    """Whether the task carries a comment with the intent's text, made since the attempt."""
    since = intent.attempted_at - CLOCK_SKEW
    async for story in client.paginate(f"/tasks/{intent.task_gid}/stories", {"opt_fields": ",".join(STORY_FIELDS)}):
        created = parse_time(story.get("created_at"))
        if (
            story.get("resource_subtype") == "comment_added"
            and plain_text(story.get("text")) == plain_text(intent.text)
            and (created is None or created >= since)
        ):
            return True
    return False


async def carries_comment(client: AsanaClient, task_gid: str, text: str) -> bool:
    """Whether the task carries a comment with this text, whenever it was posted."""
    return await posted_since(client, CommentIntent("", task_gid, text, 0, datetime.min.replace(tzinfo=UTC) + CLOCK_SKEW))


@dataclass(frozen=True)
class DueComment:
    """A comment to post: the row, its task, the text and the text's hash."""

    key: str
    task_gid: str
    text: str
    comment_hash: int


@dataclass
class CommentWriter:
    run: RunContext

    async def settle_earlier_intents(self) -> dict[str, int]:
        """Comments a crashed or interrupted run may have posted: recorded when they are on the
        task (a comment still due is posted later). Returns primary key -> hash of those found."""
        intents = await self.run.in_state(self.run.store.open_comment_intents)
        if not intents:
            return {}
        self.run.log(f"Checking {len(intents):,} comments left unsettled by an earlier run")
        posted: dict[str, int] = {}
        for intent in intents:
            try:
                found = await posted_since(self.run.client, intent)
            except NotFoundError:
                found = False
            if found:
                posted[intent.primary_key] = intent.comment_hash
                self.run.record(Outcome(intent.primary_key, comment_hash=intent.comment_hash))
        await self.run.flush()
        return posted

    async def post_all(self, comments: list[DueComment]) -> None:
        """Post each comment once; unclear answers are checked, not resent."""
        for _ in range(self.run.options.create_rounds):
            if not comments:
                return
            attempted_at = utc_now()
            intents = [CommentIntent(due.key, due.task_gid, due.text, due.comment_hash, attempted_at) for due in comments]
            await self.run.in_state(self.run.store.record_comment_intents, self.run.run_id, intents)
            unknown = await self.run.pool.map(intents, self._post)
            unclear = [intent for intent, outcome_unknown in zip(intents, unknown) if outcome_unknown]
            if not unclear:
                return
            await self.run.flush()
            self.run.log(f"{len(unclear):,} comments got no clear answer; checking the tasks' stories before posting again")
            await asyncio.sleep(self.run.options.reconcile_grace_seconds)
            comments = []
            for intent in unclear:
                if await posted_since(self.run.client, intent):
                    self._posted(intent)
                else:
                    comments.append(DueComment(intent.primary_key, intent.task_gid, intent.text, intent.comment_hash))
        for due in comments:
            self.run.reject(
                due.key, "comment", "posting the comment got no clear answer; it is checked (never posted twice) on the next run"
            )

    def _posted(self, intent: CommentIntent) -> None:
        self.run.report.comments += 1
        self.run.record(Outcome(intent.primary_key, comment_hash=intent.comment_hash))

    async def _post(self, intent: CommentIntent) -> bool:
        """Post one comment; True when the outcome is unknown."""
        try:
            await self.run.client.request(
                "POST", f"/tasks/{intent.task_gid}/stories", params={"opt_fields": "gid"}, data={"text": intent.text}, idempotent=False
            )
        except AsanaError as exc:
            if unclear_or_refused(exc):
                return True
            self.run.reject(intent.primary_key, field_of(exc) or "comment", reason_for(exc))
            return False
        self._posted(intent)
        return False
