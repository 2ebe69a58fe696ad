"""Contains all the data models used in inputs/outputs"""

from .acknowledged import Acknowledged
from .active_pipeline import ActivePipeline
from .active_pipeline_current_stage import ActivePipelineCurrentStage
from .activity import Activity
from .audit_checkpoint_dto import AuditCheckpointDto
from .audit_entry_dto import AuditEntryDto
from .audit_page import AuditPage
from .audit_verification import AuditVerification
from .broken_link_dto import BrokenLinkDto
from .budget_period_dto import BudgetPeriodDto
from .budget_status import BudgetStatus
from .budgets import Budgets
from .channel_health import ChannelHealth
from .checkpoint_list import CheckpointList
from .checkpoint_view import CheckpointView
from .claude_code_day import ClaudeCodeDay
from .claude_code_today import ClaudeCodeToday
from .claude_code_usage_dto import ClaudeCodeUsageDto
from .config_summary_response_200 import ConfigSummaryResponse200
from .cost_group_dto import CostGroupDto
from .cost_report_dto import CostReportDto
from .create_subscription import CreateSubscription
from .create_ticket import CreateTicket
from .create_ticket_batch import CreateTicketBatch
from .create_token import CreateToken
from .create_token_scopes_type_0_item import CreateTokenScopesType0Item
from .created_subscription import CreatedSubscription
from .created_token import CreatedToken
from .day_cost import DayCost
from .delivery_dto import DeliveryDto
from .delivery_dto_body import DeliveryDtoBody
from .delivery_page_dto import DeliveryPageDto
from .error_body import ErrorBody
from .event_dto import EventDto
from .event_dto_details_type_0 import EventDtoDetailsType0
from .event_dto_event_type import EventDtoEventType
from .event_dto_severity import EventDtoSeverity
from .events_dropped import EventsDropped
from .events_dropped_event_type import EventsDroppedEventType
from .failure_class_dto import FailureClassDto
from .failure_example_dto import FailureExampleDto
from .gate_dto import GateDto
from .github_webhook_body import GithubWebhookBody
from .gitlab_webhook_body import GitlabWebhookBody
from .health import Health
from .history_entry import HistoryEntry
from .history_page import HistoryPage
from .import_body import ImportBody
from .import_body_document import ImportBodyDocument
from .import_mode import ImportMode
from .jira_webhook_body import JiraWebhookBody
from .linear_webhook_body import LinearWebhookBody
from .list_tickets_sort import ListTicketsSort
from .live_event_dto import LiveEventDto
from .live_event_dto_details_type_0 import LiveEventDtoDetailsType0
from .live_event_dto_event_type import LiveEventDtoEventType
from .live_event_dto_severity import LiveEventDtoSeverity
from .llm_call_dto import LlmCallDto
from .llm_call_dto_status import LlmCallDtoStatus
from .log_line_dto import LogLineDto
from .log_line_dto_fields_type_0 import LogLineDtoFieldsType0
from .mcp_health import McpHealth
from .merged_pr_cost_dto import MergedPrCostDto
from .message import Message
from .model_price_dto import ModelPriceDto
from .model_usage import ModelUsage
from .month_cost import MonthCost
from .notification_dto import NotificationDto
from .notification_page import NotificationPage
from .openapi_response_200 import OpenapiResponse200
from .pairing_code_dto import PairingCodeDto
from .post_mcp_body import PostMcpBody
from .post_mcp_response_200 import PostMcpResponse200
from .pricing_dto import PricingDto
from .priority_name import PriorityName
from .prompt_version import PromptVersion
from .proposed_by_dto import ProposedByDto
from .put_rules import PutRules
from .queue_stats import QueueStats
from .queue_stats_by_status import QueueStatsByStatus
from .recent_call import RecentCall
from .recent_call_status import RecentCallStatus
from .recent_pr import RecentPr
from .recent_pr_status import RecentPrStatus
from .retrospective_dto import RetrospectiveDto
from .role_usage import RoleUsage
from .rollback_request import RollbackRequest
from .rolled_back import RolledBack
from .rule_body import RuleBody
from .rule_body_proposed_by_type_0 import RuleBodyProposedByType0
from .rule_dto import RuleDto
from .rule_list import RuleList
from .rules_export import RulesExport
from .run_dto import RunDto
from .run_progress_dto import RunProgressDto
from .runner_usage import RunnerUsage
from .search_page import SearchPage
from .search_result import SearchResult
from .skill_dto import SkillDto
from .skill_problem_dto import SkillProblemDto
from .skills_dto import SkillsDto
from .slot_counts import SlotCounts
from .snippet_part_dto import SnippetPartDto
from .sse_stream_response_200 import SseStreamResponse200
from .status_dto import StatusDto
from .status_dto_channels import StatusDtoChannels
from .status_dto_mcp_servers import StatusDtoMcpServers
from .submitter_stats import SubmitterStats
from .subscription_deleted import SubscriptionDeleted
from .subscription_dto import SubscriptionDto
from .task_context import TaskContext
from .task_diff import TaskDiff
from .task_dto import TaskDto
from .task_dto_status import TaskDtoStatus
from .task_retrying import TaskRetrying
from .task_transcript import TaskTranscript
from .ticket_batch_created import TicketBatchCreated
from .ticket_cancelled import TicketCancelled
from .ticket_defaults import TicketDefaults
from .ticket_deleted import TicketDeleted
from .ticket_detail import TicketDetail
from .ticket_detail_status import TicketDetailStatus
from .ticket_diff import TicketDiff
from .ticket_list_item import TicketListItem
from .ticket_list_item_status import TicketListItemStatus
from .ticket_retrying import TicketRetrying
from .ticket_summaries_sort import TicketSummariesSort
from .ticket_summary import TicketSummary
from .ticket_summary_status import TicketSummaryStatus
from .token_dto import TokenDto
from .token_dto_scopes_item import TokenDtoScopesItem
from .token_revoked import TokenRevoked
from .transcript_entry_view import TranscriptEntryView
from .transcript_entry_view_details import TranscriptEntryViewDetails
from .trigger_change import TriggerChange
from .trigger_changes import TriggerChanges
from .trigger_dto import TriggerDto
from .trigger_list import TriggerList
from .update_subscription import UpdateSubscription
from .usage_batch_in import UsageBatchIn
from .usage_group_dto import UsageGroupDto
from .usage_ingested import UsageIngested
from .usage_page_dto import UsagePageDto
from .usage_record_dto import UsageRecordDto
from .usage_row_in import UsageRowIn
from .usage_summary_dto import UsageSummaryDto
from .validate_body import ValidateBody
from .violation_dto import ViolationDto
from .violation_list import ViolationList
from .webhook_outcome_dto import WebhookOutcomeDto
from .webhook_outcome_dto_action import WebhookOutcomeDtoAction
from .webhook_pull_request import WebhookPullRequest
from .worker_dto import WorkerDto
from .workers import Workers

__all__ = (
    "Acknowledged",
    "ActivePipeline",
    "ActivePipelineCurrentStage",
    "Activity",
    "AuditCheckpointDto",
    "AuditEntryDto",
    "AuditPage",
    "AuditVerification",
    "BrokenLinkDto",
    "BudgetPeriodDto",
    "Budgets",
    "BudgetStatus",
    "ChannelHealth",
    "CheckpointList",
    "CheckpointView",
    "ClaudeCodeDay",
    "ClaudeCodeToday",
    "ClaudeCodeUsageDto",
    "ConfigSummaryResponse200",
    "CostGroupDto",
    "CostReportDto",
    "CreatedSubscription",
    "CreatedToken",
    "CreateSubscription",
    "CreateTicket",
    "CreateTicketBatch",
    "CreateToken",
    "CreateTokenScopesType0Item",
    "DayCost",
    "DeliveryDto",
    "DeliveryDtoBody",
    "DeliveryPageDto",
    "ErrorBody",
    "EventDto",
    "EventDtoDetailsType0",
    "EventDtoEventType",
    "EventDtoSeverity",
    "EventsDropped",
    "EventsDroppedEventType",
    "FailureClassDto",
    "FailureExampleDto",
    "GateDto",
    "GithubWebhookBody",
    "GitlabWebhookBody",
    "Health",
    "HistoryEntry",
    "HistoryPage",
    "ImportBody",
    "ImportBodyDocument",
    "ImportMode",
    "JiraWebhookBody",
    "LinearWebhookBody",
    "ListTicketsSort",
    "LiveEventDto",
    "LiveEventDtoDetailsType0",
    "LiveEventDtoEventType",
    "LiveEventDtoSeverity",
    "LlmCallDto",
    "LlmCallDtoStatus",
    "LogLineDto",
    "LogLineDtoFieldsType0",
    "McpHealth",
    "MergedPrCostDto",
    "Message",
    "ModelPriceDto",
    "ModelUsage",
    "MonthCost",
    "NotificationDto",
    "NotificationPage",
    "OpenapiResponse200",
    "PairingCodeDto",
    "PostMcpBody",
    "PostMcpResponse200",
    "PricingDto",
    "PriorityName",
    "PromptVersion",
    "ProposedByDto",
    "PutRules",
    "QueueStats",
    "QueueStatsByStatus",
    "RecentCall",
    "RecentCallStatus",
    "RecentPr",
    "RecentPrStatus",
    "RetrospectiveDto",
    "RoleUsage",
    "RollbackRequest",
    "RolledBack",
    "RuleBody",
    "RuleBodyProposedByType0",
    "RuleDto",
    "RuleList",
    "RulesExport",
    "RunDto",
    "RunnerUsage",
    "RunProgressDto",
    "SearchPage",
    "SearchResult",
    "SkillDto",
    "SkillProblemDto",
    "SkillsDto",
    "SlotCounts",
    "SnippetPartDto",
    "SseStreamResponse200",
    "StatusDto",
    "StatusDtoChannels",
    "StatusDtoMcpServers",
    "SubmitterStats",
    "SubscriptionDeleted",
    "SubscriptionDto",
    "TaskContext",
    "TaskDiff",
    "TaskDto",
    "TaskDtoStatus",
    "TaskRetrying",
    "TaskTranscript",
    "TicketBatchCreated",
    "TicketCancelled",
    "TicketDefaults",
    "TicketDeleted",
    "TicketDetail",
    "TicketDetailStatus",
    "TicketDiff",
    "TicketListItem",
    "TicketListItemStatus",
    "TicketRetrying",
    "TicketSummariesSort",
    "TicketSummary",
    "TicketSummaryStatus",
    "TokenDto",
    "TokenDtoScopesItem",
    "TokenRevoked",
    "TranscriptEntryView",
    "TranscriptEntryViewDetails",
    "TriggerChange",
    "TriggerChanges",
    "TriggerDto",
    "TriggerList",
    "UpdateSubscription",
    "UsageBatchIn",
    "UsageGroupDto",
    "UsageIngested",
    "UsagePageDto",
    "UsageRecordDto",
    "UsageRowIn",
    "UsageSummaryDto",
    "ValidateBody",
    "ViolationDto",
    "ViolationList",
    "WebhookOutcomeDto",
    "WebhookOutcomeDtoAction",
    "WebhookPullRequest",
    "WorkerDto",
    "Workers",
)
