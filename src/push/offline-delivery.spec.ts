import { offlineFieldsProblem } from './offline-delivery';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const aBody = (fields: Record<string, unknown>) => ({ users: ['a'], type: 't', payload: 1, ...fields });

describe(offlineFieldsProblem.name, () => {
  it('needs users for push', () => {
    expect(offlineFieldsProblem({ topics: ['x'], type: 't', payload: 1, push: { title: 'T' } }, NOW)).toBe(
      'push needs users: only users targets are pushed',
    );
    expect(offlineFieldsProblem(aBody({ users: [], push: { title: 'T' } }), NOW)).toContain(
      'push needs users',
    );
    expect(offlineFieldsProblem(aBody({ push: { title: 'T' } }), NOW)).toBeUndefined();
  });

  it.each([
    ['soon', 'expiresAt must be an ISO-8601 date-time'],
    ['2030-01-01T00:00:00Z', 'expiresAt must be in the future'],
    ['2029-12-31T00:00:00Z', 'expiresAt must be in the future'],
    ['2030-01-29T00:00:01Z', 'expiresAt must be at most 28 days ahead'],
  ])('refuses expiresAt %s', (expiresAt, problem) => {
    expect(offlineFieldsProblem(aBody({ expiresAt }), NOW)).toBe(problem);
  });

  it('takes expiresAt up to 28 days ahead, without push too', () => {
    expect(offlineFieldsProblem(aBody({ expiresAt: '2030-01-29T00:00:00Z' }), NOW)).toBeUndefined();
    expect(offlineFieldsProblem(aBody({ expiresAt: '2030-01-01T00:00:01+00:00' }), NOW)).toBeUndefined();
  });
});
