// Names for the generated API schema types (`schema.d.ts`, from docs/openapi.json via
// `npm run gen`). Aliases only: every shape comes from the OpenAPI document.
import type { components } from './schema';

type S = components['schemas'];

export type TicketListItem = S['TicketListItem'];
export type TicketSummary = S['TicketSummary'];
export type TicketDetail = S['TicketDetail'];
export type CreateTicket = S['CreateTicket'];
export type Task = S['TaskDto'];
export type TaskContext = S['TaskContext'];
export type TicketEvent = S['EventDto'];
export type LiveEvent = S['LiveEventDto'];
export type LlmCall = S['LlmCallDto'];
export type ActivePipeline = S['ActivePipeline'];
export type DayCost = S['DayCost'];
export type MonthCost = S['MonthCost'];
export type Budgets = S['Budgets'];
export type Activity = S['Activity'];
export type Status = S['StatusDto'];
export type Token = S['TokenDto'];
export type CreatedToken = S['CreatedToken'];
export type CreateToken = S['CreateToken'];
export type ErrorBody = S['ErrorBody'];

export type TicketStatus = TicketDetail['status'];
export type TaskStatus = Task['status'];
export type EventType = LiveEvent['event_type'];
export type Severity = LiveEvent['severity'];
export type Scope = Token['scopes'][number];
export type Notification = S['NotificationDto'];
export type NotificationPage = S['NotificationPage'];
export type RunProgress = S['RunProgressDto'];
export type SearchResult = S['SearchResult'];
export type SearchPage = S['SearchPage'];
export type SnippetPart = S['SnippetPartDto'];
export type Checkpoint = S['CheckpointView'];
export type CheckpointList = S['CheckpointList'];
export type RolledBack = S['RolledBack'];
export type TicketCancelled = S['TicketCancelled'];
export type TicketDiff = S['TicketDiff'];
export type TaskDiff = S['TaskDiff'];
export type TaskTranscript = S['TaskTranscript'];
export type TranscriptEntry = S['TranscriptEntryView'];
export type Retrospective = S['RetrospectiveDto'];
export type Gate = S['GateDto'];
export type FailureClass = S['FailureClassDto'];
export type Rule = S['RuleDto'];
export type RuleList = S['RuleList'];
export type RulesExport = S['RulesExport'];
export type Violation = S['ViolationDto'];
export type ViolationList = S['ViolationList'];
export type Skill = S['SkillDto'];
export type SkillList = S['SkillsDto'];
export type SkillProblem = S['SkillProblemDto'];
export type ImportBody = S['ImportBody'];
