import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './clock';
import { freePort, Managed } from './processes';
import { BenchEngine, infoField, RedisWrap, spawnRedisServer, withNode } from './redis';

const exec = promisify(execFile);
const READY_TIMEOUT_MS = 20_000;

/**
 * A Redis Cluster of the run's own: `masters` redis-servers (no replicas: on a shared 2-core machine
 * a replica would only take CPU from what is measured), every slot assigned by
 * `redis-cli --cluster create`, ready once every node reports cluster_state:ok and knows them all.
 * The test suite's fixture (test/support/redis-cluster.ts) does the same with fault injection; this
 * one's processes are the bench's own, so the reaper ends them with the run. `wrap` runs every node
 * under a tool (valgrind).
 */
export async function startRedisCluster(
  label: string,
  masters: number,
  wrap?: RedisWrap,
): Promise<BenchEngine> {
  const readyTimeoutMs = wrap ? 6 * READY_TIMEOUT_MS : READY_TIMEOUT_MS;
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-cluster-'));
  const nodes: Array<{ port: number; proc: Managed }> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map(({ proc }) => proc.stop(2000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const proc = await spawnRedisServer(
        `${label}-${i}`,
        port,
        [
          ...['--cluster-enabled', 'yes', '--cluster-port', String(busPort)],
          ...['--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir],
        ],
        wrap,
      );
      nodes.push({ port, proc });
    }
    nodes.sort((a, b) => a.port - b.port);
    const addresses = nodes.map(({ port }) => `127.0.0.1:${port}`);
    await exec(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      {
        timeout: readyTimeoutMs,
      },
    );
    const deadline = Date.now() + readyTimeoutMs;
    const ready = async (port: number): Promise<boolean> => {
      const info = await withNode(port, (redis) => redis.call('CLUSTER', 'INFO') as Promise<string>);
      return (
        infoField(info, 'cluster_state') === 'ok' &&
        infoField(info, 'cluster_known_nodes') === String(masters)
      );
    };
    while (!(await Promise.all(nodes.map(({ port }) => ready(port)))).every(Boolean)) {
      if (Date.now() > deadline) throw new Error(`the cluster was not ok within ${readyTimeoutMs} ms`);
      await sleep(50);
    }
    return {
      kind: 'cluster',
      address: addresses.join(','),
      nodes: nodes.map(({ port, proc }) => ({ port, pid: proc.pid })),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
