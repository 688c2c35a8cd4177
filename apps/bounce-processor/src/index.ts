/**
 * @herald/bounce-processor — receives bounces and complaints for Herald's VERP return paths:
 * `createBounceProcessor(herald)` listens on `bounce.listen`, accepts only valid VERP recipients
 * and the complaint address, classifies each message in a worker thread (with a time budget),
 * and hands each report to `herald.recordFeedback`, which acts only for the recipient the VERP
 * token names (once per token): suppresses hard bounces and complainers, counts them for tenant
 * reputation and emits `bounce_received` / `complaint_received` events.
 * `runBounceProcessor` is the daemon behind `herald bounce-processor --config FILE`.
 */

/** What Herald does with a report (suppress, count once per token, events) is core's `herald.recordFeedback`. */
export {
  type Arrival,
  type FeedbackResult as IntakeResult,
  feedbackOnceKey,
  screenRecipients,
  type VerpContext,
} from '@herald/delivery-core/feedback';
export {
  CLASSIFIER_THREADS,
  CLASSIFY_BUDGET_MS,
  type ClassifiedMessage,
  type ClassifierPool,
  type ClassifierPoolOptions,
  createClassifierPool,
} from './classifier-pool.js';
export { runBounceProcessor } from './main.js';
export {
  type BounceProcessor,
  type BounceProcessorOptions,
  createBounceProcessor,
  MAX_BOUNCE_BYTES,
} from './processor.js';
export { type ReadReport, readReport } from './report.js';
