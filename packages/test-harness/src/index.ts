/**
 * @herald/test-harness — real parts for Herald's tests: a private redis-server, scripted SMTP
 * sinks (with per-stage chaos, a seeded chaos generator and a transcript of what they wrote), a
 * loopback DNS server, a DNSSEC-validating unbound with ldns-signed zones (DANE), a private rspamd
 * (content scanning, GTUBE), a throw-away test CA, a webhook receiver that verifies Standard Webhooks
 * signatures and fails on a script, and the process/port helpers they share.
 */

// The private redis-server and the process/port helpers live in @herald/local-redis (herald
// bench uses them at run time); the tests keep importing them from here.
export * from '@herald/local-redis';
export * from './chaos.js';
export * from './dns-server.js';
export * from './dnssec-resolver.js';
export * from './rspamd.js';
export * from './smtp-sink.js';
export * from './test-ca.js';
export * from './webhook-receiver.js';
