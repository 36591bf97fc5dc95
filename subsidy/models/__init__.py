"""All tables, one module per area, so that every area and the migrations read one schema. Import from here:
`from subsidy.models import Household, Slip`.

May import `subsidy.core.clock` (creation timestamps), `subsidy.core.vault` (ID numbers and phones sealed at
rest, subsidy/models/sealed.py) and `subsidy.rules.addresses` (the address's normal form kept beside it) alone;
every area imports it.
"""

from subsidy.models.base import metadata
from subsidy.models.enums import *  # noqa: F403
from subsidy.models.regions import District, Town, Village
from subsidy.models.seasons import AcceptanceSnapshot, FundShare, QualityStandard, Season, SubsidyRate, TownTarget
from subsidy.models.users import (AccountFailures, AddressFailures, ApiToken, IdempotentRequest, LoginSession,
                                  User)
from subsidy.models.audit import AuditEntry, AuditLink, AuditSeal
from subsidy.models.suppliers import Attachment, Batch, Contract, Depot, Supplier
from subsidy.models.households import Household, ImportUpload, Notice, Registration
from subsidy.models.slips import HouseholdStove, Slip, SlipCounter, SlipLine, SlipScan
from subsidy.models.settlement import (Payment, PaymentFile, Settlement, SettlementFund, SettlementTown, Summary,
                                       SummaryEvent)
from subsidy.models.platform import ExportClock
from subsidy.models.oversight import AnomalyFlag, Case, CaseCounter, CaseDeadline, CaseEvent, CaseLink
from subsidy.models.delivery import Delivery
from subsidy.models.verification import UNREACHED_AFTER_TRIES, Callback, CallbackSample, CallbackSampleSlip
from subsidy.models.quality import SpotCheck

__all__ = [
    "metadata", "AcceptanceSnapshot", "District", "Town", "Village", "FundShare", "QualityStandard", "Season", "SubsidyRate", "TownTarget",
    "AccountFailures", "AddressFailures", "ApiToken", "IdempotentRequest", "LoginSession", "User", "AuditEntry",
    "AuditLink", "AuditSeal", "Attachment", "Batch", "Depot",
    "Contract", "Supplier", "Household", "ImportUpload", "Notice", "Registration", "HouseholdStove", "Slip", "SlipCounter",
    "SlipLine", "SlipScan", "Settlement", "SettlementFund", "SettlementTown", "Summary", "SummaryEvent",
    "AnomalyFlag", "Case", "CaseCounter", "CaseDeadline", "CaseEvent", "CaseLink", "Delivery",
    "UNREACHED_AFTER_TRIES", "Callback", "CallbackSample", "CallbackSampleSlip",
    "SpotCheck",
    "Payment", "PaymentFile", "ExportClock",
]
