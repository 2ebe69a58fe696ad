from enum import StrEnum


class TaskDtoStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    IMPLEMENTING = "implementing"
    PENDING = "pending"
    QUALITY_REVIEW = "quality_review"
    SKIPPED = "skipped"
    SPEC_REVIEW = "spec_review"
    VERIFYING = "verifying"

    def __str__(self) -> str:
        return str(self.value)
