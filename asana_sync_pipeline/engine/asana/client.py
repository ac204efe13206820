"""A thin asynchronous Asana client: pacing under the rate limit, bounded
concurrency, retries, and precise exceptions (see `errors`).

Pacing: a leaky bucket (aiolimiter) sized so that no 60-second window carries
more than `requests_per_minute` requests, and separate caps on writes and reads
in flight, mirroring Asana's own concurrency limits. A 429 pauses every request
of the client until its `Retry-After` has passed. With a `budget`, the token's
limits are shared with its other clients, in other processes and machines: this
one paces itself at its share, and a 429 pauses them all (see `budget`). A pause
of seconds that another client asked for is said (`on_retry`), one longer than
any 429 asks for is ignored and said, and a budget that cannot be read is said
once, the client pacing alone meanwhile: it never waits on its budget silently.

A client that keeps getting 429s (clients of one token that do not share a budget:
two machines each with its own DuckDB state) backs off beyond `Retry-After`: each
new run of 429s (one on a request sent after the last pause began) pauses longer,
by a random extra that doubles each time (up to `max_backoff_seconds`), and halves
the client's pace (down to an eighth), which creeps back once no 429 has come for
a while. Uncoordinated clients thus fall out of step and under the limit together,
instead of returning as a herd into a window their own rejected requests keep full.

Retries (tenacity): a 429, or a request that certainly never left (connection
refused), is always retried. A 5xx, a timeout or a dropped connection may have
taken effect, so only idempotent requests are retried on those; a create is
left to the caller, which reconciles before creating again (exactly once).
Until a first answer has arrived, a refused connection is not retried: it means
a wrong URL or a server that is down, and the user should hear so at once.

Its requests log no URL path and no httpcore trace (`http_logs.quiet_http_logs`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from ..errors import AsanaAPIError, AsanaError, AsanaTransportError, RateLimitError, ServerError, SyncConfigError, api_error_for
from ..http_logs import quiet_http_logs
from ..json_text import dumps
from ..settings import AsanaSettings
from .budget import BEAT_SECONDS, MAX_PAUSE_SECONDS, Membership, Share, TokenBudget, budget_key

LONG_PAUSE_SECONDS = 2.0
"""A pause of the token at least this long, asked for by another client, is said in the log."""

PAGE_SIZE = 100
SLOWEST = 1 / 8
"""The lowest fraction of its pace a client that keeps getting 429s slows to."""
RECOVERY_SECONDS = 5.0
"""Without a 429 for this long, a slowed client takes back an eighth of its pace (again each time)."""
STREAK_SECONDS = 60.0
"""A 429 after this long without one starts afresh (Asana counts its limit over a minute)."""
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class Slots:
    """At most `limit` holders at once; the limit may change while some wait (a token's share)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.held = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.held < self.limit)
            self.held += 1

    async def __aexit__(self, *exc_info: object) -> None:
        async with self._changed:
            self.held -= 1
            self._changed.notify_all()

    async def resize(self, limit: int) -> None:
        async with self._changed:
            self.limit = limit
            self._changed.notify_all()


def limiter_for(requests_per_minute: float) -> AsyncLimiter:
    """A leaky bucket whose burst plus steady rate stays within any 60-second window."""
    burst = max(1.0, requests_per_minute / 60.0)
    steady_per_second = max(requests_per_minute - burst, 1.0) / 60.0
    return AsyncLimiter(burst, burst / steady_per_second)


def retune(limiter: AsyncLimiter, requests_per_minute: float) -> None:
    """Change `limiter`'s pace in place (its waiters keep their turn) with its bucket full: a new
    share starts without a burst, since the other clients of the token were sending a moment ago.
    (aiolimiter has no public setter; its three attributes are what `__init__` sets.)"""
    fresh = limiter_for(requests_per_minute)
    limiter.max_rate, limiter.time_period = fresh.max_rate, fresh.time_period
    limiter._rate_per_sec = fresh.max_rate / fresh.time_period
    limiter._level = fresh.max_rate
    limiter._last_check = asyncio.get_running_loop().time()


class AsanaClient:
    """Asana's REST API over one pooled httpx connection set; use as `async with`.

    Parameters:
        settings: the token, the API root and the pace (`AsanaSettings`: every
            default and limit is declared there, once).
        transport: replaces httpx's network transport (a proxy, or a test's
            `httpx.MockTransport`).
        on_retry: called with one line each time a request is retried, saying why, and
            whenever the client waits on its token's budget for long (or cannot read it).
        budget: where clients of the same token in other processes and machines meet; the
            client then paces itself at its share of the token's limits (see `budget`).

    `requests_sent` and `writes_sent` count what went out (retries included)."""

    def __init__(
        self,
        settings: AsanaSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_retry: Callable[[str], None] | None = None,
        budget: TokenBudget | None = None,
    ):
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {settings.access_token}", "Accept": "application/json"},
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(max_connections=settings.max_concurrent_writes + settings.max_concurrent_reads),
            transport=transport,
        )
        self._limiter = limiter_for(settings.requests_per_minute)
        self._writes = Slots(settings.max_concurrent_writes)
        self._reads = Slots(settings.max_concurrent_reads)
        self._paused_until = 0.0
        self._pause_told = 0.0
        self._budget = budget
        self._membership: Membership | None = None
        self._beating: asyncio.Task[None] | None = None
        self._pause_to_share = 0.0
        self._beat_now = asyncio.Event()
        self._budget_pause_told = 0.0
        self._budget_unreadable = False
        self.share = Share(1, 0.0)
        """The token's clients (this one included) at the last beat."""
        self._backoff = wait_exponential_jitter(initial=0.5, max=settings.max_backoff_seconds)
        self._streak = 0
        """Runs of 429s in a row (see the module doc); 0 once none came for `STREAK_SECONDS`."""
        self._streak_began = 0.0
        self._last_429 = float("-inf")
        self._last_step = float("-inf")
        self.slowdown = 1.0
        """The fraction of its pace (its share of the token's) this client sends at: below 1 while
        it keeps getting 429s."""
        self._on_retry = on_retry
        self._answered = False
        self.requests_sent = 0
        self.writes_sent = 0

    async def __aenter__(self) -> AsanaClient:
        if self._budget is not None:
            for note in self._budget.notes:
                self._say(note)
            key = budget_key(self.base_url, self.settings.access_token)
            try:
                self._membership = await asyncio.to_thread(self._budget.join, key)
                await self._apply(await asyncio.to_thread(self._membership.beat))
            except SyncConfigError:
                raise
            except Exception as exc:
                self._unreadable(exc)
            if self._membership is not None:
                self._beating = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._beating is not None:
            self._beating.cancel()
        if self._membership is not None:
            try:
                await asyncio.to_thread(self._membership.leave)
            except Exception as exc:
                self._say(
                    f"Could not leave the token's budget, {self._budget_place()}: {type(exc).__name__}: {exc}; "
                    "the other clients stop counting this one within seconds"
                )
        with quiet_http_logs():
            await self._http.aclose()

    # ---- the token's budget, shared with its other clients ------------------

    def _say(self, line: str) -> None:
        if self._on_retry:
            self._on_retry(line)

    def _budget_place(self) -> str:
        return self._budget.where if self._budget is not None else "-"

    def _unreadable(self, exc: Exception) -> None:
        """Said once until the budget can be read again: meanwhile the client keeps its last share."""
        if not self._budget_unreadable:
            self._budget_unreadable = True
            self._say(
                f"The token's budget, {self._budget_place()}, cannot be read ({type(exc).__name__}: {exc}); this client "
                f"paces alone at its last share ({self.share.of(100):.0f}% of the token's limits) until it can, and tries "
                "again every second"
            )

    async def _beat(self) -> None:
        """Every second (at once after a 429): tell the budget this client is here, take its share."""
        assert self._membership is not None
        while True:
            try:
                await asyncio.wait_for(self._beat_now.wait(), BEAT_SECONDS)
            except TimeoutError:
                pass
            self._beat_now.clear()
            pause, self._pause_to_share = self._pause_to_share, 0.0
            try:
                share = await asyncio.to_thread(self._membership.beat, pause)
            except Exception as exc:  # the budget unreachable for a moment: keep the last share, try again
                self._pause_to_share = max(self._pause_to_share, pause)
                self._unreadable(exc)
                continue
            if self._budget_unreadable:
                self._budget_unreadable = False
                self._say(f"The token's budget, {self._budget_place()}, can be read again")
            await self._apply(share)

    async def _apply(self, share: Share) -> None:
        settings = self.settings
        if share.repaired:
            self._say(
                f"The token's budget, {self._budget_place()}, held {share.repaired} forged or broken rows (a beat dated "
                "far ahead, a pause longer than any 429 asks for, a value that is not a number): removed, not waited on"
            )
        if share.members != self.share.members:
            retune(self._limiter, share.of(settings.requests_per_minute) * self.slowdown)
            await self._writes.resize(max(1, int(share.of(settings.max_concurrent_writes))))
            await self._reads.resize(max(1, int(share.of(settings.max_concurrent_reads))))
        paused_for = share.paused_for
        if paused_for > MAX_PAUSE_SECONDS:
            self._say(
                f"Ignored a pause of {paused_for:,.0f} s read from the token's budget ({self._budget_place()}): no 429 asks "
                f"for more than {MAX_PAUSE_SECONDS:,.0f} s"
            )
            paused_for = 0.0
        if paused_for > 0:
            until = time.monotonic() + paused_for
            if paused_for >= LONG_PAUSE_SECONDS and until > max(self._paused_until, self._budget_pause_told) + 1:
                self._say(
                    f"Another client of this token got a 429 (rate limit) from Asana: every request waits {paused_for:.0f} s, "
                    f"then resumes ({share.members} clients share the token through its budget, {self._budget_place()})"
                )
                self._budget_pause_told = until
            self._paused_until = max(self._paused_until, until)
        self.share = share

    def __repr__(self) -> str:
        return f"AsanaClient(base_url={self.base_url!r})"

    # ---- transport ------------------------------------------------------

    async def _send_once(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, unwrap: bool,
        form: dict[str, str] | None = None, pause_all: bool = True,
    ) -> Any:  # fmt: skip
        slots = self._reads if method == "GET" else self._writes
        async with slots:
            while True:
                while (pause := self._paused_until - time.monotonic()) > 0:
                    await asyncio.sleep(pause)
                await self._limiter.acquire()
                if self._paused_until <= time.monotonic():
                    break  # not paused while it waited for its turn (else it waits, then takes a turn again)
            self._recover()
            sent_at = time.monotonic()
            self.requests_sent += 1
            if method != "GET":
                self.writes_sent += 1
            try:
                content = None if body is None else dumps(body).encode("utf-8")
                headers = None if body is None else {"Content-Type": "application/json"}
                files = None if form is None else {name: (None, value) for name, value in form.items()}
                with quiet_http_logs():
                    response = await self._http.request(method, path, params=params, content=content, headers=headers, files=files)
            except _NOT_SENT as exc:
                raise AsanaTransportError(
                    f"{method} {path}: could not connect to {self.base_url} ({type(exc).__name__})", maybe_processed=False
                ) from None
            except httpx.LocalProtocolError as exc:
                raise AsanaTransportError(
                    f"{method} {path}: the request could not be sent ({type(exc).__name__}: {_safe(exc)})",
                    maybe_processed=False,
                ) from None
            except httpx.TimeoutException as exc:
                raise AsanaTransportError(f"{method} {path}: no answer in time ({type(exc).__name__})", maybe_processed=True) from None
            except httpx.TransportError as exc:
                raise AsanaTransportError(f"{method} {path}: connection lost ({type(exc).__name__})", maybe_processed=True) from None
        self._answered = True
        if response.status_code < 400 and sent_at >= self._streak_began:
            self._streak = 0  # through after the last pause: the 429s are no longer in a row
        if response.status_code < 400:
            payload = response.json() if response.content else {}
            return payload.get("data") if unwrap else payload
        raise self._error(response, method, path, sent_at, pause_all=pause_all)

    def _error(
        self, response: httpx.Response, method: str, path: str, sent_at: float = 0.0, *, pause_all: bool = True
    ) -> AsanaAPIError:
        messages: list[str] = []
        phrase = fresh = None
        try:
            body = response.json()
            for error in body.get("errors", []):
                messages.append(str(error.get("message", "")))
                phrase = phrase or error.get("phrase")
            fresh = body.get("sync") if isinstance(body.get("sync"), str) else None
        except (ValueError, AttributeError):
            messages = [response.reason_phrase or ""]
        retry_after = None
        if response.status_code == 429:
            try:
                retry_after = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                retry_after = 1.0
        if response.status_code == 429 and pause_all:  # else a limit of the request's own: it alone waits
            assert retry_after is not None
            pause = self._rate_limited(retry_after, sent_at)
            self._paused_until = max(self._paused_until, time.monotonic() + pause)
            if self._membership is not None:
                self._pause_to_share = max(self._pause_to_share, pause)
                self._beat_now.set()
        return api_error_for(
            response.status_code, messages, method=method, path=path, phrase=phrase, retry_after=retry_after,
            fresh_token=fresh,
        )  # fmt: skip

    def _rate_limited(self, retry_after: float, sent_at: float) -> float:
        """How long every request waits after a 429: `Retry-After`, and when the 429s keep coming, a
        random extra that doubles with each new run of them (the client slows down too)."""
        now = time.monotonic()
        if now - self._last_429 > STREAK_SECONDS:
            self._streak = 0
        self._last_429 = now
        if self._streak and sent_at < self._streak_began:
            return retry_after  # sent before this run of 429s began: part of it, not a new one
        self._streak += 1
        self._streak_began = now
        if self._streak < 2:
            return retry_after
        self._slow_to(max(SLOWEST, self.slowdown / 2))
        ceiling = min(self.settings.max_backoff_seconds, max(retry_after, 1.0) * (2 ** (self._streak - 1) - 1))
        return retry_after + random.uniform(0, ceiling)

    def _recover(self) -> None:
        """A slowed client takes back an eighth of its pace for each `RECOVERY_SECONDS` without a 429."""
        now = time.monotonic()
        if self.slowdown < 1 and now - max(self._last_429, self._last_step) >= RECOVERY_SECONDS:
            self._last_step = now
            self._slow_to(min(1.0, self.slowdown + SLOWEST))

    def _slow_to(self, fraction: float) -> None:
        self.slowdown = fraction
        retune(self._limiter, self.share.of(self.settings.requests_per_minute) * fraction)

    def _wait(self, state: RetryCallState) -> float:
        """Asana's Retry-After for a 429 (plus jitter, so waiting requests do not return as a herd);
        exponential backoff with jitter otherwise."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitError):
            return exc.retry_after + random.uniform(0, 1.0)
        return self._backoff(state)

    def _stop(self, state: RetryCallState) -> bool:
        """A 429 means "not yet", not "failed": it gets a larger budget than errors do."""
        exc = state.outcome.exception() if state.outcome else None
        limit = self.settings.max_rate_limited_attempts if isinstance(exc, RateLimitError) else self.settings.max_attempts
        return state.attempt_number >= limit

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: Any = None,
        idempotent: bool = True,
        unwrap: bool = True,
        form: dict[str, str] | None = None,
        pause_all: bool = True,
    ) -> Any:
        """One API call with Asana's `data` wrapping, paced and retried.

        Returns the response's `data`, or the whole body with `unwrap=False` (list
        pages keep `next_page` beside `data`). `form`: sent as multipart/form-data instead
        of JSON (attachments). `pause_all=False`: a 429 waits this request alone (a limit of
        its own, such as the template jobs a user may run at once, is no reason to pause the rest)."""

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, RateLimitError):
                return True
            if isinstance(exc, AsanaTransportError):
                if not exc.maybe_processed and not self._answered:
                    return False
                return idempotent or not exc.maybe_processed
            return idempotent and isinstance(exc, ServerError)

        def before_sleep(state: RetryCallState) -> None:
            if not self._on_retry or state.outcome is None:
                return
            exc = state.outcome.exception()
            if isinstance(exc, RateLimitError) and not pause_all:
                return
            if isinstance(exc, RateLimitError):
                if self._paused_until > self._pause_told:  # one line per pause, not one per waiting request
                    self._pause_told = self._paused_until
                    waits = max(exc.retry_after, self._paused_until - time.monotonic())
                    more = (
                        f" (past its Retry-After of {exc.retry_after:g} s since the 429s keep coming: another client of "
                        f"the token not sharing its budget?); this client slows to {self.slowdown:.0%} of its pace for a while"
                        if self.slowdown < 1
                        else ""
                    )
                    self._on_retry(f"Asana answered 429 (rate limit): every request waits {waits:.3g} s, then resumes{more}")
                return
            self._on_retry(f"retrying {method} {path} after: {exc}")

        body = None if data is None else {"data": data}
        retrying = AsyncRetrying(
            retry=retry_if_exception(retryable),
            wait=self._wait,
            stop=self._stop,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(method, path, params, body, unwrap, form, pause_all)
        raise AsanaError("unreachable")  # pragma: no cover

    async def paginate(self, path: str, params: dict[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every record of a list endpoint, following `next_page` offsets."""
        query = {**(params or {}), "limit": PAGE_SIZE}
        while True:
            response = await self.request("GET", path, params=query, unwrap=False)
            for record in response.get("data", []):
                yield record
            next_page = response.get("next_page")
            if not next_page:
                return
            query = {**query, "offset": next_page["offset"]}

    # ---- endpoints --------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        return await self.request("GET", "/users/me", params={"opt_fields": "name,email,workspaces"})

    async def get_project(self, project_gid: str) -> dict[str, Any]:
        return await self.request(
            "GET", f"/projects/{project_gid}", params={"opt_fields": "name,workspace,permalink_url"}
        )

    def custom_field_settings(self, project_gid: str, opt_fields: list[str]) -> AsyncIterator[dict[str, Any]]:
        return self.paginate(f"/projects/{project_gid}/custom_field_settings", {"opt_fields": ",".join(opt_fields)})

    async def get_task(self, task_gid: str, opt_fields: list[str]) -> dict[str, Any]:
        return await self.request("GET", f"/tasks/{task_gid}", params={"opt_fields": ",".join(opt_fields)})

    async def create_task(self, data: dict[str, Any], opt_fields: list[str] | None = None) -> dict[str, Any]:
        """POST /tasks, never retried once it may have reached Asana (see module doc)."""
        fields = ",".join(opt_fields) if opt_fields else "gid,permalink_url"
        return await self.request("POST", "/tasks", params={"opt_fields": fields}, data=data, idempotent=False)

    async def update_task(self, task_gid: str, data: dict[str, Any], opt_fields: list[str] | None = None) -> dict[str, Any]:
        """The task as Asana holds it after the update (`opt_fields`, or its GID alone)."""
        fields = ",".join(opt_fields) if opt_fields else "gid"
        return await self.request("PUT", f"/tasks/{task_gid}", params={"opt_fields": fields}, data=data)

    async def delete_task(self, task_gid: str) -> None:
        await self.request("DELETE", f"/tasks/{task_gid}")

    async def post(self, path: str, data: dict[str, Any]) -> Any:
        """An idempotent action such as `/tasks/{gid}/addTag` or `/sections/{gid}/addTask`."""
        return await self.request("POST", path, params={"opt_fields": "gid"}, data=data)

    async def attach_link(self, task_gid: str, url: str, name: str) -> dict[str, Any]:
        """POST /attachments (multipart/form-data): an external attachment, a link; never retried once it
        may have reached Asana (the caller looks for it before sending again)."""
        form = {"parent": task_gid, "resource_subtype": "external", "url": url, "name": name}
        return await self.request("POST", "/attachments", params={"opt_fields": "gid,view_url,name"}, form=form, idempotent=False)

    async def instantiate_template(self, template_gid: str, name: str) -> dict[str, Any]:
        """POST /task_templates/{gid}/instantiateTask: the job that makes the task; never retried once it may
        have reached Asana. A 429 (the user's jobs at once) waits this request alone."""
        return await self.request(
            "POST", f"/task_templates/{template_gid}/instantiateTask", params={"opt_fields": "gid,status,new_task"},
            data={"name": name}, idempotent=False, pause_all=False,
        )  # fmt: skip

    async def get_job(self, job_gid: str) -> dict[str, Any]:
        return await self.request("GET", f"/jobs/{job_gid}", params={"opt_fields": "status,new_task"})

    async def events(self, resource: str, sync: str | None) -> dict[str, Any]:
        """One call of the events API: `{data, sync, has_more}`; `SyncTokenExpired` (412) carries a
        fresh token when `sync` is missing or too old."""
        params = {"resource": resource, **({"sync": sync} if sync else {})}
        result: dict[str, Any] = await self.request("GET", "/events", params=params, unwrap=False)
        return result

    def project_tasks(
        self, project_gid: str, *, modified_since: str | None = None, opt_fields: list[str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        params: dict[str, Any] = {"project": project_gid}
        if modified_since:
            params["modified_since"] = modified_since
        if opt_fields:
            params["opt_fields"] = ",".join(opt_fields)
        return self.paginate("/tasks", params)


def _safe(exc: Exception) -> str:
    """An httpx message without header values (they could hold the token)."""
    text = str(exc)
    return "an invalid header value" if "header" in text.lower() else text
