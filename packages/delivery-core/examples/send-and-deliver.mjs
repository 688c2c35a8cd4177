// Enqueue a message from code and deliver it from this same process — no relay daemon.
// Run: REDIS_URL=redis://127.0.0.1:6379 SMARTHOST=127.0.0.1:2526 node examples/send-and-deliver.mjs
import { createHerald } from '@herald/delivery-core';

const DELIVERY_WAIT_MS = 20_000;

const herald = await createHerald({
  redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  // Route every domain to one smarthost (like Postfix's relayhost); omit `routes` to deliver by MX.
  routes: [{ match: '*', via: process.env.SMARTHOST ?? '127.0.0.1:2526', tls: 'none' }],
  events: { log_level: 'warn' },
});

// Every recipient ends in exactly one terminal event: delivered, bounced, expired or suppressed.
const outcome = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no outcome in time')), DELIVERY_WAIT_MS);
  herald.events.on((event) => {
    if (['delivered', 'bounced', 'expired', 'suppressed'].includes(event.type)) {
      clearTimeout(timer);
      resolve(event);
    }
  });
});

const result = await herald.send({
  from: 'app@example.com',
  to: ['user@example.net', 'not-an-address'],
  subject: 'Hello from Herald',
  text: 'Sent from code with @herald/delivery-core.',
});
console.log(
  JSON.stringify({ messageId: result.messageId, accepted: result.accepted, rejected: result.rejected }),
);

herald.startWorkers(); // delivery workers in this process
const event = await outcome;
console.log(JSON.stringify({ outcome: event.type, recipient: event.recipient, reply: event.reply }));
await herald.close();
