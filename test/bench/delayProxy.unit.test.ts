import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type * as Proxy from '../../bench/delayProxy.ts' with { 'resolution-mode': 'import' };
import type * as Plot from '../../bench/plot.ts' with { 'resolution-mode': 'import' };

// bench/ is an ES module package (node runs bench/*.ts directly): a CommonJS test loads it with import().
let proxyModule: typeof Proxy;
let plot: typeof Plot;
beforeAll(async () => {
  proxyModule = await import('../../bench/delayProxy.ts');
  plot = await import('../../bench/plot.ts');
});

/** A TCP echo server on a free loopback port. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** Sends `payload` through a fresh connection to `port` and resolves with the echo and the round trip in ms. */
function roundTrip(port: number, payload: Buffer): Promise<{ echo: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const started = performance.now();
    const socket: Socket = connect({ host: '127.0.0.1', port }, () => socket.write(payload));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) {
        socket.end();
        resolve({ echo: Buffer.concat(chunks), ms: performance.now() - started });
      }
    });
    socket.on('error', reject);
  });
}

describe('bench delay proxy', () => {
  test('When a request goes through the proxy with a 200 ms delay, then its round trip takes at least 200 ms and every byte comes back in order', async () => {
    const { server, port } = await echoServer();
    const proxy = await proxyModule.startDelayProxy({ targetHost: '127.0.0.1', targetPort: port, delayMs: 200 });
    try {
      const small = Buffer.from('ping');
      const direct = await roundTrip(port, small);
      const delayed = await roundTrip(proxy.port, small);
      expect(delayed.echo.toString()).toBe('ping');
      expect(delayed.ms).toBeGreaterThanOrEqual(195);
      expect(delayed.ms - direct.ms).toBeLessThan(1500);

      const large = randomBytes(4 * 1024 * 1024);
      const bulk = await roundTrip(proxy.port, large);
      expect(bulk.echo.equals(large)).toBe(true);
      expect(proxy.bytes()).toBeGreaterThanOrEqual(2 * (large.length + small.length));
    } finally {
      await proxy.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('When the proxy has no delay, then it forwards at once', async () => {
    const { server, port } = await echoServer();
    const proxy = await proxyModule.startDelayProxy({ targetHost: '127.0.0.1', targetPort: port, delayMs: 0 });
    try {
      const { echo, ms } = await roundTrip(proxy.port, Buffer.from('x'.repeat(1000)));
      expect(echo.toString()).toBe('x'.repeat(1000));
      expect(ms).toBeLessThan(1000);
    } finally {
      await proxy.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('bench SVG chart', () => {
  test('When a chart has two series and a threshold, then the SVG has one line per series, a dot per point, the threshold and escaped labels', () => {
    const svg = plot.lineChart({
      title: 'latency <p99>',
      xLabel: 'orders/s',
      yLabel: 'ms',
      threshold: { y: 250, label: 'target' },
      series: [
        {
          name: 'p50',
          points: [
            [10, 40],
            [20, 60],
            [36, 90],
          ],
        },
        {
          name: 'p99',
          points: [
            [10, 120],
            [20, 300],
            [36, Number.NaN],
          ],
          dashed: true,
        },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect(svg).toContain('latency &lt;p99&gt;');
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('>target</text>');
    expect(svg).not.toContain('NaN');
  });
});
