from enum import StrEnum


class TicketSummariesSort(StrEnum):
    CREATED_ASC = "created_asc"
    CREATED_DESC = "created_desc"
    UPDATED_DESC = "updated_desc"

    def __str__(self) -> str:
        return str(self.value)
