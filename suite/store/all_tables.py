"""Imports every table module so `SQLModel.metadata` knows them all (for Alembic and tests).

Each feature that adds tables adds its module here.
"""

import suite.store.audit_log  # noqa: F401
import suite.store.devices  # noqa: F401
import suite.store.dicom  # noqa: F401
import suite.store.hl7  # noqa: F401
import suite.store.leases  # noqa: F401
from suite.store import alarms, tables, vitals  # noqa: F401
