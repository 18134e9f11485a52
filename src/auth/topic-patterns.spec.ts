import { TopicPatterns } from './topic-patterns';

describe(TopicPatterns.name, () => {
  it.each([
    [['orders.42'], 'orders.42', true],
    [['orders.42'], 'orders.420', false],
    [['orders.*'], 'orders.42', true],
    [['orders.*'], 'orders.', true],
    [['orders.*'], 'orders', false],
    [['orders.*'], 'invoices.1', false],
    [['*'], 'anything:at.all', true],
    [[], 'orders.42', false],
    [['a', 'b.*'], 'b.c', true],
  ])('%j allows %s: %s', (patterns, topic, allowed) => {
    expect(new TopicPatterns(patterns).allows(topic)).toBe(allowed);
  });
});
