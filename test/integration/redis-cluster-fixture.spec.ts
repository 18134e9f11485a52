import { RedisClusterNode, startRedisCluster, TestRedisCluster } from '../support/redis-cluster';
import { startRedisSentinel, TestRedisSentinel } from '../support/redis-sentinel';
import { createServer } from 'node:net';
import { infoField, onFreePorts, spawnRedisServer } from '../support/redis-process';
import { waitUntil } from '../support/wait';

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function timed<T>(timings: Record<string, number>, what: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  timings[what] = Date.now() - started;
  return result;
}

describe(startRedisCluster.name, () => {
  let sut: TestRedisCluster;
  let pids: number[];
  const timings: Record<string, number> = {};

  /** A key whose slot `master` serves (probing key-0, key-1, … with CLUSTER KEYSLOT). */
  const keyOn = async (master: RedisClusterNode) => {
    for (let i = 0; i < 1000; i++) {
      const key = `fixture:key-${i}`;
      const slot = await sut.keySlot(key);
      if (master.slots.some(([first, last]) => slot >= first && slot <= last)) return key;
    }
    throw new Error(`no probed key hashes to a slot of ${master.port}`);
  };
  const masters = async () => (await sut.nodes()).filter((node) => node.role === 'master' && !node.failed);

  beforeAll(async () => {
    sut = await timed(timings, 'start', () => startRedisCluster({ masters: 3, replicasPerMaster: 1 }));
    pids = (await sut.nodes()).map((node) => node.pid);
  }, 40_000);

  afterAll(async () => {
    await sut?.stop();
    console.log(`redis cluster fixture timings (ms): ${JSON.stringify(timings)}`);
  });

  it('starts 3 masters with a replica each, covering every slot, in a few seconds', async () => {
    const nodes = await sut.nodes();
    const [primaries, replicas] = [
      nodes.filter((n) => n.role === 'master'),
      nodes.filter((n) => n.role === 'replica'),
    ];
    expect(primaries).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    expect(replicas.map((r) => r.masterId).sort()).toEqual(primaries.map((m) => m.id).sort());
    const served = primaries
      .flatMap((m) => m.slots)
      .reduce((sum, [first, last]) => sum + last - first + 1, 0);
    expect(served).toBe(16384);
    expect(sut.seeds.split(',').sort()).toEqual(nodes.map((n) => `127.0.0.1:${n.port}`).sort());
    expect(timings.start).toBeLessThan(15_000);
  });

  it('serves a key written through an ioredis Cluster client', async () => {
    const client = await sut.client();
    await client.set('fixture:{user:42}', 'hello');
    expect(await client.get('fixture:{user:42}')).toBe('hello');
    const owner = await sut.masterOf('fixture:{user:42}');
    expect(await sut.nodeClient(owner.port).get('fixture:{user:42}')).toBe('hello');
    expect(await sut.keySlot('fixture:{user:42}')).toBe(await sut.keySlot('{user:42}'));
  });

  it('passes Cluster options through: a sharded subscriber gets an SPUBLISH', async () => {
    const subscriber = await sut.client({ shardedSubscribers: true });
    const received = new Promise<string>((resolve) =>
      subscriber.on('smessage', (_channel: string, message: string) => resolve(message)),
    );
    await subscriber.ssubscribe('fixture:{user:42}:events');

    await (await sut.client()).spublish('fixture:{user:42}:events', 'sharded');

    await expect(received).resolves.toBe('sharded');
  });

  it('fails a master over to its replica by hand', async () => {
    const [master] = await masters();
    const key = await keyOn(master);
    const client = await sut.client();
    await client.set(key, 'before the failover');

    const { demoted, promoted } = await timed(timings, 'failover', () => sut.failover(key));

    expect(demoted).toMatchObject({ id: master.id, role: 'replica', masterId: promoted.id });
    expect(promoted.role).toBe('master');
    expect((await sut.masterOf(key)).id).toBe(promoted.id);
    expect(await sut.nodeClient(promoted.port).get(key)).toBe('before the failover');
  });

  it('migrates a slot to another master, holding it open in between', async () => {
    const [source, target] = await masters();
    const key = await keyOn(source);
    const slot = await sut.keySlot(key);
    const client = await sut.client();
    await client.set(key, 'migrating');
    let openState: { onSource: string; onTarget: unknown } | undefined;

    await timed(timings, 'migrateSlot (200 ms open)', () =>
      sut.migrateSlot(slot, target.id, {
        holdOpenMs: 200,
        whileOpen: async () => {
          // Keys moved, ownership not yet: the source redirects with ASK, the target serves the key under ASKING.
          const [, moved] =
            (await sut.nodeClient(target.port).pipeline().call('ASKING').get(key).exec()) ?? [];
          const onSource = await sut
            .nodeClient(source.port)
            .get(key)
            .then(String, (error: Error) => error.message);
          openState = { onSource, onTarget: moved?.[1] };
        },
      }),
    );

    expect(openState).toEqual({ onSource: `ASK ${slot} 127.0.0.1:${target.port}`, onTarget: 'migrating' });
    expect((await sut.masterOf(slot)).id).toBe(target.id);
    expect(await sut.nodeClient(target.port).get(key)).toBe('migrating');
    await expect(sut.nodeClient(source.port).get(key)).rejects.toThrow(/MOVED/);
  });

  it('stalls a master past node-timeout: its replica takes over and it wakes as a replica', async () => {
    const [, , master] = await masters();
    const key = await keyOn(master);

    await timed(timings, 'stall 5 s', () => sut.stall(master.port, 5));

    const after = (await sut.nodes()).find((node) => node.id === master.id);
    const owner = await sut.masterOf(key);
    expect(owner.id).not.toBe(master.id);
    expect(after).toMatchObject({ role: 'replica', masterId: owner.id, alive: true });
  });

  it('kills a master: its replica is promoted and serves the slot', async () => {
    const [master] = await masters();
    const key = await keyOn(master);
    const client = await sut.client();
    await client.set(key, 'survives the crash');

    const { killed, promoted } = await timed(timings, 'killMaster', () => sut.killMaster(key));

    expect(killed.id).toBe(master.id);
    expect(running(killed.pid)).toBe(false);
    expect(promoted.role).toBe('master');
    expect((await sut.masterOf(key)).id).toBe(promoted.id);
    expect(await sut.nodeClient(promoted.port).get(key)).toBe('survives the crash');
    await waitUntil(
      async () => (await client.get(key).catch(() => undefined)) === 'survives the crash',
      10_000,
      'the Cluster client to read through the promoted replica',
    );
  });

  it('stops every node', async () => {
    expect(pids.filter(running)).toHaveLength(5);
    await sut.stop();
    expect(pids.filter(running)).toEqual([]);
  });
});

describe(startRedisSentinel.name, () => {
  let sut: TestRedisSentinel;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    sut = await timed(timings, 'start', () => startRedisSentinel({ replicas: 1, sentinels: 3 }));
  }, 40_000);

  afterAll(async () => {
    await sut?.stop();
    console.log(`redis sentinel fixture timings (ms): ${JSON.stringify(timings)}`);
  });

  it('starts a master, a replica and 3 Sentinels that agree on it', async () => {
    const processes = sut.processes();
    expect(processes.filter((p) => p.kind === 'data')).toHaveLength(2);
    expect(processes.filter((p) => p.kind === 'sentinel')).toHaveLength(3);
    expect(sut.sentinels.split(',')).toEqual(
      processes.filter((p) => p.kind === 'sentinel').map((p) => `127.0.0.1:${p.port}`),
    );
    expect(sut.masterName).toBe('herald');
    expect(processes.find((p) => p.kind === 'data')?.port).toBe(await sut.masterPort());
    expect(timings.start).toBeLessThan(15_000);
  });

  it('serves a key written through an ioredis Sentinel-mode client', async () => {
    const client = await sut.client();
    await client.set('fixture:sentinel', 'hello');
    expect(await client.get('fixture:sentinel')).toBe('hello');
    expect(await sut.nodeClient(await sut.masterPort()).get('fixture:sentinel')).toBe('hello');
  });

  it('fails over to the replica on SENTINEL FAILOVER', async () => {
    const client = await sut.client();
    await client.set('fixture:failover', 'replicated');

    const { from, to } = await timed(timings, 'failover', () => sut.failover());

    expect(to).not.toBe(from);
    expect(await sut.masterPort()).toBe(to);
    expect(infoField(await sut.nodeClient(to).info('replication'), 'role')).toBe('master');
    expect(await sut.nodeClient(to).get('fixture:failover')).toBe('replicated');

    await timed(timings, 'converged after failover', () => sut.converged());
    expect(infoField(await sut.nodeClient(from).info('replication'), 'master_port')).toBe(String(to));
  });

  it('promotes the replica when the master is killed', async () => {
    const { killed, promoted } = await timed(timings, 'killMaster', () => sut.killMaster());

    expect(promoted).not.toBe(killed);
    expect(sut.processes().find((p) => p.port === killed)?.alive).toBe(false);
    expect(await sut.masterPort()).toBe(promoted);
    const client = await sut.client();
    await client.set('fixture:after-kill', 'written');
    expect(await sut.nodeClient(promoted).get('fixture:after-kill')).toBe('written');
  });

  it('stops every process', async () => {
    const pids = sut.processes().map((p) => p.pid);
    await sut.stop();
    expect(pids.filter(running)).toEqual([]);
  });
});

describe(onFreePorts.name, () => {
  it('starts a server again on fresh ports when the port picked was taken before it could bind', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const address = squatter.address();
    const taken = typeof address === 'object' && address ? address.port : 0;
    const tried: number[] = [];

    const sut = await onFreePorts(1, ([picked]) => {
      const port = tried.length === 0 ? taken : picked;
      tried.push(port);
      return spawnRedisServer(['--port', String(port), '--bind', '127.0.0.1', '--save', ''], port);
    });

    try {
      expect(tried).toEqual([taken, sut.port]);
      expect(sut.alive()).toBe(true);
    } finally {
      await sut.kill();
      await new Promise((resolve) => squatter.close(resolve));
    }
    expect(running(sut.pid)).toBe(false);
  });
});
