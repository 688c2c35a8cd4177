/**
 * Small helpers with no home of their own. The timeout helper (deadline.ts): `withDeadline`
 * (rejects with DeadlineExceeded) and `settlesWithin` (true / false), the one way Herald bounds a
 * wait on a promise. `splitLines` (lines.ts), linear at any size.
 */
export { DeadlineExceeded, settlesWithin, withDeadline } from './deadline.js';
export { splitLines } from './lines.js';
