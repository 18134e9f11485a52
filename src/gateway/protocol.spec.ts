import { parseClientFrame } from './protocol';

describe(parseClientFrame.name, () => {
  it.each([
    ['{"event":"ping","data":{}}', { event: 'ping', data: {} }],
    ['{"event":"ping"}', { event: 'ping', data: {} }],
    [
      '{"event":"subscribe","data":{"channel":"topic:a"}}',
      { event: 'subscribe', data: { channel: 'topic:a' } },
    ],
    [
      '{"event":"subscribe","data":{"channel":"topic:a","offset":0,"epoch":"e"}}',
      { event: 'subscribe', data: { channel: 'topic:a', offset: 0, epoch: 'e' } },
    ],
    [
      '{"event":"unsubscribe","data":{"channel":"topic:a"}}',
      { event: 'unsubscribe', data: { channel: 'topic:a' } },
    ],
    ['{"event":"refresh","data":{"token":"t"}}', { event: 'refresh', data: { token: 't' } }],
  ])('accepts %s', (raw, frame) => {
    expect(parseClientFrame(raw)).toEqual({ ok: true, frame });
  });

  it('names the channel of a refused subscribe', () => {
    expect(
      parseClientFrame('{"event":"subscribe","data":{"channel":"topic:a","offset":1,"epoch":""}}'),
    ).toMatchObject({
      ok: false,
      channel: 'topic:a',
    });
  });

  it.each([
    ['nope', 'frame is not JSON'],
    ['"string"', 'frame must be a JSON object'],
    ['{"data":{}}', 'frame must be a JSON object'],
    ['{"event":"ping","data":[]}', '`data` must be an object'],
    ['{"event":"shout","data":{}}', 'unknown event "shout"'],
    ['{"event":"subscribe","data":{}}', '`channel` must be a string'],
    [
      '{"event":"subscribe","data":{"channel":"topic:a","offset":-1,"epoch":"e"}}',
      '`offset` must be a non-negative integer',
    ],
    [
      '{"event":"subscribe","data":{"channel":"topic:a","offset":1.5,"epoch":"e"}}',
      '`offset` must be a non-negative integer',
    ],
    [
      '{"event":"subscribe","data":{"channel":"topic:a","epoch":"e"}}',
      '`offset` must be a non-negative integer',
    ],
    ['{"event":"subscribe","data":{"channel":"topic:a","offset":1}}', '`epoch` must be a non-empty string'],
    ['{"event":"refresh","data":{"token":""}}', '`token` must be a non-empty string'],
  ])('refuses %s, naming the problem', (raw, message) => {
    const result = parseClientFrame(raw);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(message);
  });
});
