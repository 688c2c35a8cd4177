/**
 * The accounting log: every attempt and every recipient outcome as a CSV or JSON-lines record in
 * a file per UTC day (`<directory>/herald-acct-YYYY-MM-DD.<csv|jsonl>`), written from the event
 * stream by a follower that keeps its cursor in Redis and survives restarts and crashes without
 * gaps or duplicates. See log.ts (the runner), records.ts (the columns), format.ts (CSV / JSON
 * lines), files.ts and recovery.ts (the file tails after a crash), status.ts (cursor and lag).
 */

export { fileName, utcDay } from './files.js';
export { type AccountingFormat, csvField, fileHeader, formatRecord } from './format.js';
export { type AccountingLog, type AccountingLogOptions, createAccountingLog } from './log.js';
export { ACCOUNTING_COLUMNS, type AccountingColumn, type AccountingRecord } from './records.js';
export { type AccountingDeps, accountingFromConfig } from './runtime.js';
export { type AccountingStatus, accountingConsumer, accountingStatus } from './status.js';
