/**
 * Small helpers with no home of their own. The timeout helper (deadline.ts): `withDeadline`
 * (rejects with DeadlineExceeded) and `settlesWithin` (true / false), the one way Herald bounds a
 * wait on a promise. A received message with room in front for the header fields added on top
 * (headroom.ts): `joinWithHeadroom`, `MessageCollector`, `prepend`, `isShared` (a large message's memory is shared). `splitLines` (lines.ts), linear at any size.
 * `guardFormula` / `unguardFormula` (csv-cell.ts): a CSV cell a spreadsheet would run as a formula.
 */
export { FORMULA_GUARD, guardFormula, unguardFormula } from './csv-cell.js';
export { DeadlineExceeded, settlesWithin, withDeadline } from './deadline.js';
export {
  HEADROOM_BYTES,
  HEADROOM_MIN_MESSAGE_BYTES,
  isShared,
  joinWithHeadroom,
  MessageCollector,
  prepend,
  SHARED_MIN_MESSAGE_BYTES,
} from './headroom.js';
export { splitLines } from './lines.js';
