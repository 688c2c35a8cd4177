/**
 * Small promise helpers with no home of their own: `settlesWithin` for shutdown paths that wait a
 * bounded time for work to end.
 */
export { settlesWithin } from './settle.js';
