from enum import StrEnum


class RecentPrStatus(StrEnum):
    AWAITING_MERGE = "awaiting_merge"
    BLOCKED = "blocked"
    CLARIFICATION_NEEDED = "clarification_needed"
    DECOMPOSED = "decomposed"
    DECOMPOSING = "decomposing"
    DONE = "done"
    FAILED = "failed"
    IMPLEMENTING = "implementing"
    MERGED = "merged"
    PARTIAL = "partial"
    PLANNING = "planning"
    PLAN_VALIDATING = "plan_validating"
    PR_CLOSED = "pr_closed"
    PR_CREATED = "pr_created"
    QUEUED = "queued"
    REVIEWING = "reviewing"

    def __str__(self) -> str:
        return str(self.value)
