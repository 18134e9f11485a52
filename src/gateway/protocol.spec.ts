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
    [
      '{"event":"ack","data":{"ids":["0B0E7F8C-6C59-4A43-9D5E-2F1B5A7C9E11"]}}',
      { event: 'ack', data: { ids: ['0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11'] } },
    ],
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
    ['{"event":"ack","data":{}}', 'ack: ids must be an array of 1-100 notification ids'],
    ['{"event":"ack","data":{"ids":[]}}', 'ack: ids must be an array of 1-100 notification ids'],
    [
      `{"event":"ack","data":{"ids":${JSON.stringify(Array(101).fill('0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11'))}}}`,
      'ack: ids must be an array of 1-100 notification ids',
    ],
    ['{"event":"ack","data":{"ids":["n-1"]}}', 'ack: each of ids must be a notification id (a UUID)'],
    ['{"event":"ack","data":{"ids":[42]}}', 'ack: each of ids must be a notification id (a UUID)'],
  ])('refuses %s, naming the problem', (raw, message) => {
    const result = parseClientFrame(raw);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(message);
  });
});
