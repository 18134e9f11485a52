import { channelTag, decodeEventId, encodeEventId } from './sse-event-id';

describe(encodeEventId.name, () => {
  it('round-trips every channel position by the channel tag', () => {
    const id = encodeEventId([
      ['user:alice', { offset: 12, epoch: 'AbCd-_12' }],
      ['topic:orders.42', { offset: 0, epoch: 'zzzzzzzz' }],
    ]);
    expect(id).toMatch(/^1\.[0-9a-f]{8}:12:AbCd-_12\.[0-9a-f]{8}:0:zzzzzzzz$/);
    expect(decodeEventId(id)).toEqual(
      new Map([
        [channelTag('user:alice'), { offset: 12, epoch: 'AbCd-_12' }],
        [channelTag('topic:orders.42'), { offset: 0, epoch: 'zzzzzzzz' }],
      ]),
    );
  });

  it('makes a stream without positions the bare version', () => {
    expect(encodeEventId([])).toBe('1');
    expect(decodeEventId('1')).toEqual(new Map());
  });

  it('keeps 102 channels of 200-character names well under a header line', () => {
    const positions = Array.from({ length: 102 }, (_, i): [string, { offset: number; epoch: string }] => [
      `topic:${String(i).padStart(200, 'x')}`,
      { offset: 123456789, epoch: 'AbCdEfGh' },
    ]);
    expect(encodeEventId(positions).length).toBeLessThan(3000);
  });
});

describe(decodeEventId.name, () => {
  it.each(['', '2.0000000a:1:e', '1.zz:1:e', '1.0000000a:-1:e', '1.0000000a:1:', '1.0000000a:1:e\n', 'x'])(
    'refuses %j',
    (id) => {
      expect(decodeEventId(id)).toBeUndefined();
    },
  );
});

describe(channelTag.name, () => {
  it('is 8 hex digits, different for different channels', () => {
    expect(channelTag('user:a')).toMatch(/^[0-9a-f]{8}$/);
    expect(channelTag('user:a')).not.toBe(channelTag('user:b'));
  });
});
