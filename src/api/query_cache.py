"""A response cache for read-only GraphQL queries (ADR 0016).

Officials refresh the same board over and over; each refresh costs ~30 ms of GraphQL
execution in Python. This cache keeps the encoded answer of a read-only query and
serves it again, without executing GraphQL, to a request that would get the same
answer from a fresh read:

- the same document text, operation name and variables (canonical JSON);
- the same caller, field by field (subject, roles, agency, cabinet tables,
  municipality) and the cabinet scope the resolvers apply;
- the same language, municipality and "today" in the municipality's time zone;
- the same position of **every** read model, as this process knows it
  (:class:`ReadModelPositions`, fed by ``projections.positions.ProgressWatch``).

A mutation's answer is sent only once ``ProgressWatch`` knows every read model has its
write, so the next query of that caller has a new key and misses anything computed
before the write (read your own writes). When the positions are in doubt (not
listening for announcements, not re-read since the listening connection came back,
or behind what was seen before, as after a rebuild) nothing is looked up or stored.

Only documents whose every operation is a query and whose every field, at every level,
is on :data:`READ_FIELDS` are cached: fields answered from the read models, with no
side effects, that depend on the clock only through "today". Answers with errors or
extensions, and answers above ``TEQUIO_QUERY_CACHE_MAX_ENTRY_BYTES``, are not kept.
The cache runs after the body cap, authentication and the rate limit (the GraphQL
context is made first) and after the same parse and validation the schema applies
(memoised per document, as the schema's own caches are).

The cache is one object per application (made in the lifespan, kept on the
``Runtime``); with several processes each has its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import asyncpg
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    specified_rules,
    visit,
)
from graphql.language.visitor import BREAK
from graphql.validation import ASTValidationRule
from strawberry.schema.schema import validate_document

from projections.positions import APPLICATION_NAME, RECONNECT_DELAY
from projections.registry import PROJECTIONS, tracking_table

log = logging.getLogger("tequio.api.cache")

HEADER = "Tequio-Query-Cache"
HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"

# Root fields answered from the read models alone, with no side effect and no clock but
# "today". Not here: ``reporterReads`` (the write side's audit trail; personal data),
# ``webhookSubscriptions`` / ``webhookSubscription`` (the webhook store is not a read
# model, and whether a previous secret still signs depends on the wall clock).
READ_ROOT_FIELDS = frozenset(
    {
        "territories",
        "agencies",
        "posts",
        "post",
        "case",
        "cases",
        "commitment",
        "commitments",
        "table",
        "tables",
        "assembly",
        "agencyScorecards",
        "tableAgenda",
        "cabinetBriefing",
    }
)


def _fields(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Every field a cached document may select, by the type it is selected on. A field or
# type that is not listed (a new one, or one left out on purpose) makes the document
# uncacheable. Left out on purpose: ``Case.reporter`` (a reporter's contact, read from
# the write side and audited on every read). ``__typename`` is allowed everywhere.
READ_FIELDS: Mapping[str, frozenset[str]] = {
    "Query": READ_ROOT_FIELDS,
    "Agency": _fields("id name level"),
    "AgencyScorecard": _fields(
        "made fulfilled validated onTime overdue reschedules medianDaysToFulfil agency"
    ),
    "Assembly": _fields("id kind heldOn attendance facilitator territory cases"),
    "CabinetBriefing": _fields(
        "cabinet since newCases dueSoon overdue hotSpots newCasesCount dueSoonCount overdueCount"
    ),
    "Case": _fields(
        "id version title description theme priority status externalId location raisedAt"
        " territory assembly tables commitments timeline mergedInto"
    ),
    "CaseConnection": _fields("edges pageInfo totalCount"),
    "CaseEdge": _fields("cursor node"),
    "Commitment": _fields(
        "id version description dueOn agreedOn status progress reschedules disputes"
        " lastDisputeReason evidence overdue daysOverdue madeAt case responsible post"
        " accountable accountableWhenMade table assembly timeline"
    ),
    "CommitmentConnection": _fields("edges pageInfo totalCount"),
    "CommitmentEdge": _fields("cursor node"),
    "HotSpot": _fields("cases territory"),
    "Location": _fields("lat long address"),
    "Official": _fields("id name"),
    "PageInfo": _fields("hasNextPage endCursor"),
    "Post": _fields("id title version agency holder"),
    "Table": _fields("id name kind version territory members"),
    "TableAgenda": _fields("table openCases dueCommitments overdueCommitments"),
    "Territory": _fields("id name kind parent"),
    "TimelineEntry": _fields("at type summary actor"),
}

# Directives that only choose fields by the (keyed) variables.
READ_DIRECTIVES = frozenset({"include", "skip"})

# Documents longer than this are executed, never cached (keeps the memo of verdicts small).
MAX_DOCUMENT_CHARS = 20_000
VERDICT_MEMO_SIZE = 256


# -- which documents ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    cacheable: bool
    reason: str = ""


CACHEABLE = Verdict(True)


class _ReadOnly(Visitor):
    """Stops at the first operation, field or directive a cached answer may not hold."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.refused: str | None = None

    def _refuse(self, reason: str) -> Any:
        self.refused = reason
        return BREAK

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        if node.operation is not OperationType.QUERY:
            return self._refuse(f"a {node.operation.value}")
        return None

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        name = node.name.value
        if name == "__typename":
            return None
        parent = self.type_info.get_parent_type()
        allowed = READ_FIELDS.get(parent.name) if parent is not None else None
        if allowed is None or name not in allowed:
            owner = parent.name if parent is not None else "?"
            return self._refuse(f"{owner}.{name} is not a cached read")
        return None

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        if node.name.value not in READ_DIRECTIVES:
            return self._refuse(f"@{node.name.value}")
        return None


def judge(
    schema: GraphQLSchema,
    document: str,
    *,
    rules: Collection[type[ASTValidationRule]] = (),
    max_tokens: int | None = None,
) -> Verdict:
    """Whether answers to ``document`` may be cached: it parses and validates as the
    schema would (``rules`` are the schema's own limits), holds only queries, and
    selects only :data:`READ_FIELDS`."""
    if len(document) > MAX_DOCUMENT_CHARS:
        return Verdict(False, "document too long")
    try:
        ast: DocumentNode = parse(document, max_tokens=max_tokens)
    except GraphQLError:
        return Verdict(False, "does not parse")
    if validate_document(schema, ast, (*specified_rules, *rules)):
        return Verdict(False, "not valid")
    type_info = TypeInfo(schema)
    visitor = _ReadOnly(type_info)
    visit(ast, TypeInfoVisitor(type_info, visitor))
    if visitor.refused is not None:
        return Verdict(False, visitor.refused)
    return CACHEABLE


# -- what the read models have -----------------------------------------------------------

# (epoch, ((read model, position), ...)): the epoch changes when a read model was rebuilt.
Positions = tuple[int, tuple[tuple[str, int], ...]]
# {read model: (its tracking table's oid, position)}
Tracking = dict[str, tuple[int, int]]
TrackingReader = Callable[[asyncpg.Pool, Sequence[str]], Awaitable[Tracking]]


async def read_tracking(pool: asyncpg.Pool, names: Sequence[str]) -> Tracking:
    """Each read model's tracking table (its oid: a rebuild makes a new table) and
    position. A missing table raises ``asyncpg.UndefinedTableError``."""
    query = " UNION ALL ".join(
        f"SELECT '{name}' AS name, '{tracking_table(name)}'::regclass::oid AS oid,"
        f" (SELECT notification_id FROM {tracking_table(name)} WHERE application_name = $1)"
        " AS position"
        for name in names
    )
    async with pool.acquire() as conn:
        rows = await conn.fetch(query, APPLICATION_NAME)
    return {r["name"]: (int(r["oid"]), int(r["position"] or 0)) for r in rows}


def known_positions(progress: Any) -> Mapping[str, int] | None:
    """What ``ProgressWatch`` knows now: the positions it read from the tracking tables
    or heard announced. None if it cannot say, which turns the cache off rather than
    guess."""
    known = getattr(progress, "known", None)
    return known() if callable(known) else None


class ReadModelPositions:
    """The position of every read model as this process knows it, or None when in doubt.

    ``ProgressWatch`` learns positions from the runners' announcements on its listening
    connection (and from the tracking tables when a mutation waits). Announcements sent
    while it is not listening are lost, so this also reads the tracking tables itself:
    after every (re)connection before anything is trusted, and every ``reread_every``
    seconds (which bounds what a silently dead connection could hide). A snapshot is:

    - None while ``ProgressWatch`` is not listening, until the tables were read after it
      (re)connected, while a read model is behind what the tables showed before or a
      tracking table is missing (a rebuild under way), or if what ``ProgressWatch``
      knows cannot be read;
    - else an epoch, which changes when a read model was rebuilt (its tracking table was
      made again), and per read model the highest position seen in the tables or
      known to ``ProgressWatch`` in this epoch: a key never goes back to one an older
      answer was kept under, even when ``ProgressWatch``'s own view steps back.
    """

    def __init__(
        self,
        progress: Any,
        pool: asyncpg.Pool,
        *,
        names: Sequence[str] = tuple(PROJECTIONS),
        reread_every: float = 0.25,
        read: TrackingReader = read_tracking,
        known: Callable[[Any], Mapping[str, int] | None] = known_positions,
    ) -> None:
        self._progress = progress
        self._pool = pool
        self._names = tuple(names)
        self._reread_every = reread_every
        self._read = read
        self._known = known
        # ProgressWatch stays disconnected at least RECONNECT_DELAY after a break, and
        # counts its listening sessions: looking this often sees every break.
        self._check_every = min(0.1, RECONNECT_DELAY / 4)
        # A read slower than this is given up (a busy event loop, a slow server): it
        # proves nothing either way, but positions not read again for ``max_age``
        # seconds are not used (what a silently dead listening connection could hide).
        self._read_timeout = 2.0
        self.max_age = max(2.0, 8 * reread_every)
        self._read_ok_at = float("-inf")
        self._epoch = 0
        self._tables: dict[str, int] | None = None  # tracking tables' oids
        self._read_at: dict[str, int] = {}  # positions the tables showed (never lowered)
        self._high: dict[str, int] = {}  # the key's positions in this epoch
        self._rebuilt = False  # a read model went back: a new epoch once it is back
        self._trusted = False
        self._breaks = 0
        self._session: int | None = None  # the listening session the positions were read in
        self._task: asyncio.Task[None] | None = None
        self._warned = False

    @property
    def trusted(self) -> bool:
        return self._trusted and bool(self._progress.listening)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="query-cache-positions")

    async def close(self) -> None:
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled():
            with suppress(Exception):
                task.result()

    def snapshot(self) -> Positions | None:
        if not self._progress.listening or self._sessions() != self._session:
            self._distrust()
            return None
        if not self._trusted:
            return None
        if asyncio.get_running_loop().time() - self._read_ok_at > self.max_age:
            return None  # not read again for too long: in doubt, but not distrusted
        known = self._known(self._progress)
        if known is None:
            if not self._warned:
                self._warned = True
                log.warning("query cache off: ProgressWatch's positions cannot be read")
            return None
        high = self._high
        snapshot = []
        for name in self._names:
            position = high[name]
            heard = known.get(name, 0)
            if heard > position:
                high[name] = position = heard
            snapshot.append((name, position))
        return self._epoch, tuple(snapshot)

    def _distrust(self) -> None:
        if self._trusted:
            log.info("query cache: read-model positions in doubt; bypassing")
        self._trusted = False
        self._breaks += 1

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        next_read = 0.0
        while True:
            if not self._progress.listening:
                self._distrust()
            elif not self._trusted or loop.time() >= next_read:
                await self.reread()
                next_read = loop.time() + self._reread_every
            await asyncio.sleep(self._check_every)

    async def reread(self) -> bool:
        """Reads the tracking tables; trusts the positions if the listening connection
        stayed up throughout and no read model is behind what the tables showed before.
        Returns whether it now trusts them."""
        breaks, session = self._breaks, self._sessions()
        if not self._progress.listening:
            self._distrust()
            return False
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that arrives as the read completes, and close() would wait forever.
            async with asyncio.timeout(self._read_timeout):
                found = await self._read(self._pool, self._names)
        except TimeoutError:
            # Slow, not wrong: keep what is trusted; ``max_age`` bounds how long.
            log.debug("query cache: reading positions took over %s s", self._read_timeout)
            return self._trusted
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            # A missing tracking table: a rebuild has dropped it (or nothing ran yet).
            log.debug("query cache: cannot read positions: %r", error)
            self._rebuilt = self._rebuilt or self._tables is not None
            self._distrust()
            return False
        if not self._progress.listening or self._breaks != breaks or self._sessions() != session:
            self._distrust()
            return False
        tables = {name: found[name][0] for name in self._names}
        read = {name: found[name][1] for name in self._names}
        if self._tables is not None and tables != self._tables:
            self._rebuilt = True
        self._tables = tables
        behind = [name for name in self._names if read[name] < self._read_at.get(name, 0)]
        if behind:
            # Rebuilt: answers kept before must not come back, and answers from a read
            # model half rebuilt must not be kept; wait until it is back where it was.
            if self._trusted:
                log.info("query cache: %s went back (rebuilt?); bypassing", ", ".join(behind))
            self._rebuilt = True
            self._trusted = False
            return False
        if self._rebuilt:
            self._rebuilt = False
            self._epoch += 1
            self._high = {}
        for name in self._names:
            self._read_at[name] = read[name]
            self._high[name] = max(self._high.get(name, 0), read[name])
        self._session = session
        self._trusted = True
        self._read_ok_at = asyncio.get_running_loop().time()
        return True

    def _sessions(self) -> int | None:
        """ProgressWatch's count of listening sessions: a new one may have missed
        announcements, however briefly it was down."""
        sessions = getattr(self._progress, "sessions", None)
        return sessions if isinstance(sessions, int) else None


# -- the cache ---------------------------------------------------------------------------


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    shared: int = 0  # misses answered by the same request being executed at the time
    stores: int = 0
    evictions: int = 0
    invalidated: int = 0
    bypasses: dict[str, int] = field(default_factory=dict)
    not_stored: dict[str, int] = field(default_factory=dict)

    def bypass(self, reason: str) -> None:
        self.bypasses[reason] = self.bypasses.get(reason, 0) + 1

    def skip(self, reason: str) -> None:
        self.not_stored[reason] = self.not_stored.get(reason, 0) + 1


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    return value


def caller_key(caller: Any) -> list[Any]:
    """Every field of the caller (a new field of ``Caller`` joins the key by itself)."""
    return [[f.name, _plain(getattr(caller, f.name))] for f in dataclasses.fields(caller)]


class QueryCache:
    """An LRU of encoded answers (at most ``size``, each at most ``max_entry_bytes``),
    keyed by :meth:`key`, and the memo of which documents may be cached."""

    def __init__(
        self,
        *,
        size: int,
        max_entry_bytes: int,
        positions: ReadModelPositions,
        max_bytes: int | None = None,
        judge: Callable[[str], Verdict],
    ) -> None:
        self.size = size
        self.max_bytes = max_bytes if max_bytes is not None else size * max_entry_bytes
        self.max_entry_bytes = min(max_entry_bytes, self.max_bytes)
        self.positions = positions
        self._judge = judge
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self._verdicts: OrderedDict[str, Verdict] = OrderedDict()
        self.stats = CacheStats()
        self._at: Positions | None = None  # the positions the answers held were made at
        # Keys being answered now: who asks for one of them meanwhile waits for that
        # answer (the first refresh after a write, by everyone at once, runs once).
        self._running: dict[bytes, asyncio.Future[bytes | None]] = {}

    async def start(self) -> None:
        await self.positions.start()

    async def close(self) -> None:
        await self.positions.close()
        self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    @property
    def entries(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def verdict(self, document: str) -> Verdict:
        found = self._verdicts.get(document)
        if found is not None:
            self._verdicts.move_to_end(document)
            return found
        found = self._judge(document)
        if len(document) <= MAX_DOCUMENT_CHARS:
            self._verdicts[document] = found
            if len(self._verdicts) > VERDICT_MEMO_SIZE:
                self._verdicts.popitem(last=False)
        return found

    @staticmethod
    def key(
        *,
        document: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        context: Any,
        positions: Positions,
    ) -> bytes | None:
        """A digest of everything the answer depends on; None if some part of it cannot
        be written down exactly (then nothing is cached)."""
        scope = context.cabinet_scope
        parts = [
            document,
            operation_name,
            variables or {},
            caller_key(context.caller),
            None if scope is None else sorted(scope),
            context.language,
            context.municipality,
            context.today.isoformat(),
            positions,
        ]
        try:
            text = json.dumps(parts, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return None
        return hashlib.sha256(text.encode()).digest()

    def observe(self, positions: Positions) -> None:
        """Positions only move forward (or to a new epoch): once they have, no answer
        kept under the old ones can be asked for again, so they are dropped now."""
        if positions != self._at:
            self._at = positions
            if self._entries:
                self.stats.invalidated += len(self._entries)
                self.clear()

    def get(self, key: bytes) -> bytes | None:
        body = self._entries.get(key)
        if body is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return body

    def running(self, key: bytes) -> asyncio.Future[bytes | None] | None:
        """The answer to ``key`` being made now by another request, if any."""
        return self._running.get(key)

    def begin(self, key: bytes) -> asyncio.Future[bytes | None]:
        """This request makes the answer to ``key``; :meth:`end` hands it to whoever
        waited for it."""
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        return future

    def end(self, key: bytes, future: asyncio.Future[bytes | None], body: bytes | None) -> None:
        """``body``: the plain answer to share, or None (the waiters execute it)."""
        if self._running.get(key) is future:
            del self._running[key]
        if not future.done():
            future.set_result(body)

    def put(self, key: bytes, body: bytes, positions: Positions | None = None) -> bool:
        """Keeps ``body`` under ``key`` unless it is too big, or the read models have
        moved on since ``positions`` (the snapshot the key holds)."""
        if len(body) > self.max_entry_bytes:
            self.stats.skip("too_large")
            return False
        if positions is not None and positions != self._at:
            self.stats.skip("moved_on")
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._entries[key] = body
        self._bytes += len(body)
        self.stats.stores += 1
        while len(self._entries) > self.size or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted)
            self.stats.evictions += 1
        return True


def cacheable_answer(body: bytes) -> bool:
    """Only a plain ``{"data": {...}}``: no errors, no (per-request) extensions."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.keys() == {"data"} and answer["data"] is not None
