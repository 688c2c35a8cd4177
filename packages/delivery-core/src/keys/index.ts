/**
 * Every Redis key Herald writes, in one registry.
 */
export * from './shaping.js';
