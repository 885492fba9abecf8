import net from 'node:net';

/**
 * Returns a TCP port that was free on `host` a moment ago.
 *
 * The port is released before it is returned, so another process can take it first; callers
 * that hand the port to a child process (the registry) retry on "address already in use".
 * Servers written in Node should listen on port 0 instead of calling this.
 */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
