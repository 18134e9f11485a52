/**
 * A token's `topics` claim: each entry is an exact topic name, a prefix ending in `*` (`orders.*`),
 * or `*` for every topic.
 */
export class TopicPatterns {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];

  constructor(patterns: readonly string[]) {
    for (const pattern of patterns) {
      if (pattern.endsWith('*')) this.prefixes.push(pattern.slice(0, -1));
      else this.exact.add(pattern);
    }
  }

  allows(topic: string): boolean {
    return this.exact.has(topic) || this.prefixes.some((prefix) => topic.startsWith(prefix));
  }
}
