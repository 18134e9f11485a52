import { AckedWrite, AckedWrites, AuditHandlers, Verdict, WriteRoutes } from './acked-writes';
import { waitUntil } from '../../../test/support/wait';

/** Routes whose owners the test sets; onChange fires when it says so. */
class TestRoutes implements WriteRoutes {
  readonly owners = new Map<number, string | undefined>();
  private listener: () => void = () => undefined;

  route(key: string): number {
    return Number(key);
  }
  owner(route: number): string | undefined {
    return this.owners.has(route) ? this.owners.get(route) : 'a';
  }
  onChange(listener: () => void): void {
    this.listener = listener;
  }
  change(route: number, owner: string | undefined): void {
    this.owners.set(route, owner);
    this.listener();
  }
}

/** What the engine holds now, per write id; everything not named is present. */
class TestEngine implements AuditHandlers {
  readonly verdicts = new Map<string, Verdict>();
  readonly verified: string[] = [];
  readonly lostBatches: { ids: string[]; beyondMemory: boolean }[] = [];
  readonly failures: unknown[] = [];
  failNext = 0;

  verify(write: AckedWrite): Promise<Verdict> {
    this.verified.push(write.id);
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new Error('connection closed'));
    }
    return Promise.resolve(this.verdicts.get(write.id) ?? 'present');
  }
  lost(writes: readonly AckedWrite[], beyondMemory: boolean): Promise<void> {
    this.lostBatches.push({ ids: writes.map(({ id }) => id), beyondMemory });
    return Promise.resolve();
  }
  failed(error: unknown): void {
    this.failures.push(error);
  }
}

const aWrite = (id: string, route = 0, channel = `user:${id}`): AckedWrite => ({
  route,
  channel,
  offset: 1,
  epoch: 'e1',
  id,
});

describe(AckedWrites.name, () => {
  let routes: TestRoutes;
  let engine: TestEngine;
  let sut: AckedWrites;

  beforeEach(() => {
    routes = new TestRoutes();
    engine = new TestEngine();
    sut = new AckedWrites(routes, engine, 100);
  });
  afterEach(() => sut.close());

  const settled = async () => {
    // An audit runs its lookups one after the other; a few turns of the event loop finish it.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('looks nothing up while every write is still served by the node that acknowledged it', async () => {
    ['w1', 'w2'].forEach((id) => sut.record('a', aWrite(id)));
    routes.change(1, 'b');
    await settled();
    expect(engine.verified).toEqual([]);
  });

  it('after a failover, looks from the newest write back and stops at the first one found', async () => {
    ['w1', 'w2', 'w3', 'w4'].forEach((id) => sut.record('a', aWrite(id)));
    engine.verdicts.set('w4', 'lost');
    engine.verdicts.set('w3', 'lost');
    routes.change(0, 'b');
    await settled();
    expect(engine.verified.slice(0, 4)).toEqual(['w4', 'w3', 'w2', 'w1']);
    expect(engine.lostBatches).toEqual([{ ids: ['w4', 'w3'], beyondMemory: false }]);
    // Audited writes are forgotten: the next change looks up nothing again.
    engine.verified.length = 0;
    routes.change(0, 'c');
    await settled();
    expect(engine.verified).toEqual([]);
  });

  it('reports nothing when the newest write is found', async () => {
    ['w1', 'w2'].forEach((id) => sut.record('a', aWrite(id)));
    routes.change(0, 'b');
    await settled();
    expect(engine.lostBatches).toEqual([]);
  });

  it('does not count a write that tells nothing (life ended, trimmed) as lost, and looks further back', async () => {
    ['w1', 'w2', 'w3'].forEach((id) => sut.record('a', aWrite(id)));
    engine.verdicts.set('w3', 'unknown');
    engine.verdicts.set('w2', 'lost');
    engine.verdicts.set('w1', 'lost');
    routes.change(0, 'b');
    await settled();
    expect(engine.lostBatches).toEqual([{ ids: ['w2', 'w1'], beyondMemory: false }]);
  });

  it('audits only the writes whose slot moved, grouped by their new owner', async () => {
    sut.record('a', aWrite('w1', 1));
    sut.record('a', aWrite('w2', 2));
    sut.record('a', aWrite('w3', 3));
    engine.verdicts.set('w1', 'lost');
    routes.owners.set(1, 'b');
    routes.change(3, 'c');
    await settled();
    expect(engine.verified.sort()).toEqual(['w1', 'w3']);
    expect(engine.lostBatches).toEqual([{ ids: ['w1'], beyondMemory: false }]);
  });

  it('keeps the writes of a route nobody serves yet, and audits them once someone does', async () => {
    sut.record('a', aWrite('w1'));
    routes.change(0, undefined);
    await settled();
    expect(engine.verified).toEqual([]);
    engine.verdicts.set('w1', 'lost');
    routes.change(0, 'b');
    await settled();
    expect(engine.lostBatches).toEqual([{ ids: ['w1'], beyondMemory: false }]);
  });

  it('audits at once a write whose reply came after its route moved (a stalled master answering late)', async () => {
    routes.owners.set(0, 'b');
    engine.verdicts.set('late', 'lost');
    sut.record('a', aWrite('late'));
    await settled();
    expect(engine.lostBatches).toEqual([{ ids: ['late'], beyondMemory: false }]);
  });

  it('retries an audit the engine could not answer, keeping the writes', async () => {
    ['w1', 'w2'].forEach((id) => sut.record('a', aWrite(id)));
    engine.verdicts.set('w2', 'lost');
    engine.failNext = 2;
    routes.change(0, 'b');
    await waitUntil(() => engine.lostBatches.length > 0, 5000, 'the retried audit');
    expect(engine.failures).toHaveLength(1);
    expect(engine.lostBatches).toEqual([{ ids: ['w2'], beyondMemory: false }]);
  });

  it('says when every remembered write is lost and older ones were forgotten', async () => {
    for (let i = 0; i < 200; i++) sut.record('a', aWrite(`w${i}`));
    for (let i = 0; i < 200; i++) engine.verdicts.set(`w${i}`, 'lost');
    routes.change(0, 'b');
    await waitUntil(() => engine.lostBatches.length > 0, 5000, 'the audit');
    const [batch] = engine.lostBatches;
    expect(batch.beyondMemory).toBe(true);
    expect(batch.ids.length).toBeGreaterThanOrEqual(100);
    expect(batch.ids.length).toBeLessThan(200);
    expect(batch.ids[0]).toBe('w199');
  });
});
