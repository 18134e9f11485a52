/**
 * `node bench/dist/gc/retention.js`: why Herald's publishing replica spent a quarter of its CPU in GC
 * (issue #14), shown on the smallest servers that have the cause or do not. Each variant is one POST
 * route that reads a JSON body, sends one Redis PUBLISH and answers 202; a closed loop of 8 keep-alive
 * clients posts to it. V8's `--trace-gc` lines of the measured window give, per variant, the scavenges'
 * mean pause and how much the heap grows from one scavenge to the next: a request whose objects die
 * young leaves nothing behind (flat); one whose objects something old still points to is copied twice,
 * promoted, and collected only by a full GC (growth). The baseline (`node:http`) is the first row.
 *
 *   --requests N   measured requests per variant (default 40,000, after 5,000 of warm-up)
 *
 * The variants: `AsyncResource.prototype.bind` per request is what fastify ≤ 5.11 did in its body
 * parser (on Node 20 each call changes a new function's prototype and defines accessors on it: new
 * maps in old space that point at the request's closures); ioredis auto-pipelining builds a Pipeline
 * per tick that defines a getter on itself. Herald runs fastify 5.12 (runInAsyncScope) and no
 * auto-pipelining on one Redis.
 */
import { AsyncResource } from 'node:async_hooks';
import { fork } from 'node:child_process';
import { Agent, createServer, IncomingMessage, request, ServerResponse } from 'node:http';
import Fastify from 'fastify';
import Redis from 'ioredis';
import { endChildrenOnExit, freePort } from '../support/processes';
import { spawnRedisServer } from '../support/redis';
import { withTimeout } from '../support/clock';

const VARIANTS = {
  'node:http': 'the baseline: node:http, ioredis without auto-pipelining',
  'node:http + AsyncResource.bind': 'the same, the body callback bound as fastify 5.11 bound it',
  'node:http + runInAsyncScope': 'the same, the callback run in the resource as fastify 5.12 does',
  'node:http + auto-pipelining': 'the baseline with ioredis enableAutoPipelining',
  fastify: "Herald's fastify (5.12), ioredis without auto-pipelining",
  'fastify + auto-pipelining': "fastify 5.12, ioredis with auto-pipelining (Herald's command client before)",
} as const;
type Variant = keyof typeof VARIANTS;

const LANES = 8;
const WARMUP = 5000;

// ---- the server (a child process: `retention.js serve <variant> <port> <redis port>`) ----

function serve(variant: Variant, port: number, redisPort: number): void {
  const redis = new Redis({ port: redisPort, enableAutoPipelining: variant.endsWith('auto-pipelining') });
  redis.on('error', (error: Error) => process.stderr.write(`redis: ${error.message}\n`));
  const publish = async (text: string): Promise<string> => {
    const body = JSON.parse(text) as { user: string };
    await redis.publish(`user:${body.user}`, text);
    return JSON.stringify({ id: body.user, accepted: true });
  };
  const answer = (response: ServerResponse, json: string): void => {
    response.writeHead(202, { 'content-type': 'application/json' });
    response.end(json);
  };
  if (variant.startsWith('fastify')) {
    const app = Fastify();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) =>
      done(null, text),
    );
    app.post('/publish', async (req, reply) => reply.code(202).send(await publish(req.body as string)));
    void app.listen({ port, host: '127.0.0.1' });
  } else {
    createServer((req: IncomingMessage, response: ServerResponse) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      const onEnd = (): void => {
        publish(text).then(
          (json) => answer(response, json),
          () => response.writeHead(503).end(),
        );
      };
      if (variant === 'node:http + AsyncResource.bind')
        req.on('end', new AsyncResource('retention').bind(onEnd));
      else if (variant === 'node:http + runInAsyncScope') {
        const resource = new AsyncResource('retention');
        req.on('end', () => resource.runInAsyncScope(onEnd));
      } else req.on('end', onEnd);
    }).listen(port, '127.0.0.1');
  }
  process.on('disconnect', () => process.exit(0));
}

// ---- the driver ----

interface GcEvent {
  atMs: number;
  kind: 'scavenge' | 'full';
  afterMb: number;
  pauseMs: number;
}

const GC_LINE =
  /(\d+) ms: (Scavenge|Mark-Compact|Mark-Sweep)\S* [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, ([\d.]+) /;

function parseGc(line: string): GcEvent | undefined {
  const match = GC_LINE.exec(line);
  if (!match) return undefined;
  return {
    atMs: Number(match[1]),
    kind: match[2] === 'Scavenge' ? 'scavenge' : 'full',
    afterMb: Number(match[3]),
    pauseMs: Number(match[4]),
  };
}

/** `count` POSTs, LANES at a time on keep-alive connections; resolves when all are answered. */
async function post(port: number, count: number, agent: Agent): Promise<void> {
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < count) {
      const body = JSON.stringify({ user: `user-${sent++ % 1000}`, type: 'bench', payload: { n: sent } });
      await new Promise<void>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/publish', method: 'POST', agent },
          (response) => {
            response.resume();
            response.on('end', () =>
              response.statusCode === 202 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`)),
            );
          },
        );
        req.setHeader('content-type', 'application/json');
        req.on('error', reject);
        req.end(body);
      });
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
}

interface Row {
  variant: Variant;
  requestsPerS: number;
  scavenges: number;
  meanPauseMs: number;
  growthMb: number;
  fullGcs: number;
}

async function measure(variant: Variant, redisPort: number, requests: number): Promise<Row> {
  const port = await freePort();
  const child = fork(__filename, ['serve', variant, String(port), String(redisPort)], {
    execArgv: ['--trace-gc'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const events: Array<GcEvent & { measured: boolean }> = [];
  let measuring = false;
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const event = parseGc(line);
      if (event) events.push({ ...event, measured: measuring });
    }
  });
  const agent = new Agent({ keepAlive: true, maxSockets: LANES });
  try {
    await withTimeout(waitForListening(port), 10_000, `${variant} listening`);
    await withTimeout(post(port, WARMUP, agent), 60_000, `${variant} warm-up`);
    measuring = true;
    const started = performance.now();
    await withTimeout(post(port, requests, agent), 120_000, `${variant} measured requests`);
    const seconds = (performance.now() - started) / 1000;
    measuring = false;
    const measured = events.filter((event) => event.measured);
    const scavenges = measured.filter((event) => event.kind === 'scavenge');
    // Growth between consecutive scavenges with no full GC in between.
    const growth: number[] = [];
    for (let i = 1; i < measured.length; i++)
      if (measured[i].kind === 'scavenge' && measured[i - 1].kind === 'scavenge')
        growth.push(measured[i].afterMb - measured[i - 1].afterMb);
    const mean = (values: number[]): number =>
      values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
    return {
      variant,
      requestsPerS: requests / seconds,
      scavenges: scavenges.length,
      meanPauseMs: mean(scavenges.map((event) => event.pauseMs)),
      growthMb: mean(growth),
      fullGcs: measured.length - scavenges.length,
    };
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
    // The next variant starts once this one is gone, not beside it.
    await withTimeout(exited, 5000, `${variant} exiting`);
  }
}

async function waitForListening(port: number): Promise<void> {
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET' }, (response) => {
        response.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function render(rows: Row[], requests: number): string {
  const base = rows[0];
  const lines = [
    `${requests} POSTs per variant after ${WARMUP} of warm-up, ${LANES} in flight; Node ${process.version}`,
    '',
    '| variant | requests/s | scavenges | mean scavenge pause (ms) | × baseline | heap growth per scavenge (MB) | full GCs |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.variant} | ${row.requestsPerS.toFixed(0)} | ${row.scavenges} | ${row.meanPauseMs.toFixed(2)} | ` +
        `${(row.meanPauseMs / base.meanPauseMs).toFixed(1)}× | ${row.growthMb.toFixed(2)} | ${row.fullGcs} |`,
    );
  }
  lines.push('');
  for (const [variant, what] of Object.entries(VARIANTS)) lines.push(`- ${variant}: ${what}`);
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--requests');
  const requests = at === -1 ? 40_000 : Number(process.argv[at + 1]);
  const redisPort = await freePort();
  const redis = await spawnRedisServer('gc-retention-redis', redisPort, []);
  try {
    const rows: Row[] = [];
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      rows.push(await measure(variant, redisPort, requests));
      process.stderr.write(`${variant}: done\n`);
    }
    process.stdout.write(render(rows, requests));
  } finally {
    await redis.stop();
  }
}

if (process.argv[2] === 'serve') {
  serve(process.argv[3] as Variant, Number(process.argv[4]), Number(process.argv[5]));
} else {
  endChildrenOnExit();
  main().catch((error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  });
}
