from enum import StrEnum


class RecentCallStatus(StrEnum):
    BUDGET_EXCEEDED = "budget_exceeded"
    ERROR = "error"
    RATE_LIMITED = "rate_limited"
    SUCCESS = "success"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return str(self.value)
