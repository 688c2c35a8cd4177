/**
 * @herald/bounce-processor — receives bounces and complaints for Herald's VERP return paths:
 * `createBounceProcessor(herald)` listens on `bounce.listen`, accepts only valid VERP recipients
 * and the complaint address, classifies each message, suppresses hard bounces and complainers,
 * counts them for tenant reputation and emits `bounce_received` / `complaint_received` events.
 * `runBounceProcessor` is the daemon behind `herald bounce-processor --config FILE`.
 */
export { type Arrival, type IntakeResult, takeFeedback, type VerpContext } from './intake.js';
export { runBounceProcessor } from './main.js';
export { type BounceProcessor, createBounceProcessor, MAX_BOUNCE_BYTES } from './processor.js';
