/**
 * Loopback TCP ports for the test fixtures and the private redis-server.
 * Owns: picking a port nothing listens on (ask the kernel for port 0, close, return it).
 * Guarantees: the port was free a moment ago; callers that bind later must retry on EADDRINUSE.
 * Needs injected: nothing.
 */
import net from 'node:net';

export const LOOPBACK_HOST = '127.0.0.1';

/** A TCP port that was free on `host` when this resolved (the probe listener is closed again). */
export function freePort(host: string = LOOPBACK_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected listener address on ${host}`));
        return;
      }
      const port = address.port;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
