/**
 * The OTLP/HTTP listener `herald bench --telemetry-sample` sends spans to (and the telemetry tests'
 * receiver reads through): every POST is answered 200 `{}` and counted with its bytes; a reader
 * gets each whole body with its headers.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { startOtlpSink } from '../src/bench/otlp-sink.js';

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

test('the bench sink answers 200 {} to every POST, counting requests and bytes', async (t) => {
  const sink = await startOtlpSink();
  t.after(() => sink.close());
  assert.match(sink.url, /^http:\/\/127\.0\.0\.1:\d+\/v1\/traces$/);
  assert.deepEqual(await post(sink.url, '{"resourceSpans":[]}'), { status: 200, text: '{}' });
  assert.deepEqual(await post(sink.url, 'x'.repeat(1000)), { status: 200, text: '{}' });
  assert.deepEqual([sink.requests, sink.bytes], [2, 20 + 1000]);
});

test("a reader gets each request's whole body and headers before the answer", async (t) => {
  const read: { body: string; headers: IncomingHttpHeaders }[] = [];
  const sink = await startOtlpSink((body, headers) => read.push({ body: body.toString('utf8'), headers }));
  t.after(() => sink.close());
  const big = JSON.stringify({ resourceSpans: [], pad: 'y'.repeat(200_000) });
  assert.equal((await post(sink.url, big)).status, 200);
  assert.equal(read.length, 1);
  assert.equal(read[0]!.body, big);
  assert.equal(read[0]!.headers['content-type'], 'application/json');
  assert.deepEqual([sink.requests, sink.bytes], [1, Buffer.byteLength(big)]);
});
