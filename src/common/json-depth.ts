/** The deepest nesting of arrays/objects a notification `payload` may have (the contract's limit). */
export const MAX_PAYLOAD_DEPTH = 100;

/**
 * Whether a parsed JSON value nests arrays/objects more than `limit` levels deep (a scalar is 0
 * levels, `[]` and `{}` are 1). Iterative, and it stops at the first path past the limit, so a value
 * nested 100,000 levels deep costs `limit` steps and no stack: everything recursive that handles a
 * payload afterwards (JSON.stringify, the idempotency fingerprint) can rely on the bound.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    const depth = next.depth + 1;
    if (depth > limit) return true;
    const children = Array.isArray(next.value) ? next.value : Object.values(next.value);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) pending.push({ value: child, depth });
    }
  }
  return false;
}
