// Helpers for tests of real servers on the loopback interface.

import http from 'node:http';
import net from 'node:net';

/** A TCP port nobody listens on at the moment (the kernel's pick on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET / on 127.0.0.1:port: the status code (a fresh connection each time, 5 s timeout). */
export function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', timeout: 5000, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}
