import { parseChannel } from './channel';

describe(parseChannel.name, () => {
  it.each([
    ['broadcast', { kind: 'broadcast', name: 'broadcast' }],
    ['user:alice', { kind: 'user', userId: 'alice', name: 'user:alice' }],
    ['user:a b:c{}', { kind: 'user', userId: 'a b:c{}', name: 'user:a b:c{}' }],
    ['user:\ufffd', { kind: 'user', userId: '\ufffd', name: 'user:\ufffd' }],
    ['user:🚚', { kind: 'user', userId: '🚚', name: 'user:🚚' }],
    ['topic:orders.42', { kind: 'topic', topic: 'orders.42', name: 'topic:orders.42' }],
    ['topic:a:b-c_d', { kind: 'topic', topic: 'a:b-c_d', name: 'topic:a:b-c_d' }],
  ])('reads %s', (name, channel) => {
    expect(parseChannel(name)).toEqual(channel);
  });

  it.each([
    '',
    'user:',
    'user:a\u0000',
    'user:\ud800',
    'user:\udc00',
    'user:a\ud83d',
    'user:\ude9aa',
    `user:${'x'.repeat(201)}`,
    'topic:',
    'topic:a b',
    'topic:é',
    `topic:${'x'.repeat(201)}`,
    'room:x',
    'broadcast:x',
  ])('refuses %j', (name) => {
    expect(parseChannel(name)).toBeNull();
  });
});
