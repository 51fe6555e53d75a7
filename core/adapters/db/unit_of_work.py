"""The unit of work over the database: every repository on it writes in one transaction."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.db.engine import Database
from core.adapters.db.repos.digests import SqlDigestRepo, SqlQuietHoursRepo
from core.adapters.db.repos.imports import SqlImportRepo
from core.adapters.db.repos.outbox import SqlOutbox, SqlStateStore
from core.adapters.db.repos.pending import SqlHandledUpdateRepo, SqlPendingActionRepo
from core.adapters.db.repos.prices import SqlMaterialRepo, SqlPriceRepo
from core.adapters.db.repos.purchases import SqlPurchaseRepo
from core.adapters.db.repos.stock import SqlInventoryRepo, SqlStockMoveRepo
from core.adapters.db.repos.vendors import SqlVendorRepo
from core.adapters.db.repos.watches import SqlWatchRepo


class SqlUnitOfWork:
    """Implements core.ports.UnitOfWork. Used in one task: the repositories join the
    transaction this task opened, so everything they write commits or rolls back together."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.materials = SqlMaterialRepo(db)
        self.prices = SqlPriceRepo(db)
        self.inventory = SqlInventoryRepo(db)
        self.vendors = SqlVendorRepo(db)
        self.outbox = SqlOutbox(db)
        self.held = self.outbox
        self.state = SqlStateStore(db)
        self.watches = SqlWatchRepo(db)
        self.digests = SqlDigestRepo(db)
        self.quiet_hours = SqlQuietHoursRepo(db)
        self.stock = SqlStockMoveRepo(db)
        self.pending = SqlPendingActionRepo(db)
        self.handled = SqlHandledUpdateRepo(db)
        self.imports = SqlImportRepo(db)
        self.purchases = SqlPurchaseRepo(db)
        self._transaction: AbstractAsyncContextManager[AsyncConnection] | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._transaction is not None:
            raise RuntimeError("a unit of work is entered once")
        self._transaction = self._db.transaction()
        await self._transaction.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._transaction is not None
        await self._transaction.__aexit__(kind, error, traceback)
