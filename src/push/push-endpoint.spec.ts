import { endpointProblem, isPrivateAddress } from './push-endpoint';

describe(endpointProblem.name, () => {
  it.each([
    'https://fcm.googleapis.com/fcm/send/abc',
    'https://updates.push.services.mozilla.com/wpush/v2/xyz',
    'https://8.8.8.8/push',
    'https://[2001:db8::1]/push',
  ])('accepts the public https endpoint %s', (endpoint) => {
    expect(endpointProblem(endpoint, false)).toBeUndefined();
  });

  it.each([
    ['http://push.example/x', 'https://'],
    ['ftp://push.example/x', 'https://'],
    ['https://user:pw@push.example/x', 'credentials'],
    ['https://localhost/x', 'loopback or private'],
    ['https://a.localhost/x', 'loopback or private'],
    ['https://127.0.0.1:8080/x', 'loopback or private'],
    ['https://10.1.2.3/x', 'loopback or private'],
    ['https://172.20.0.1/x', 'loopback or private'],
    ['https://192.168.1.1/x', 'loopback or private'],
    ['https://169.254.169.254/latest', 'loopback or private'],
    ['https://[::1]/x', 'loopback or private'],
    ['https://[fd00::1]/x', 'loopback or private'],
    ['https://[::ffff:127.0.0.1]/x', 'loopback or private'],
    ['https://0.0.0.0/x', 'loopback or private'],
  ])('refuses %s (%s) without PUSH_ALLOW_PRIVATE_ENDPOINTS', (endpoint, problem) => {
    expect(endpointProblem(endpoint, false)).toContain(problem);
  });

  it('allows http and loopback with PUSH_ALLOW_PRIVATE_ENDPOINTS, but still no other scheme', () => {
    expect(endpointProblem('http://127.0.0.1:9999/push/1', true)).toBeUndefined();
    expect(endpointProblem('https://localhost/push/1', true)).toBeUndefined();
    expect(endpointProblem('ws://127.0.0.1/push', true)).toContain('http:// or https://');
  });
});

describe(isPrivateAddress.name, () => {
  it.each([
    ['127.0.0.1', true],
    ['100.64.0.1', true],
    ['172.15.0.1', false],
    ['172.32.0.1', false],
    ['8.8.4.4', false],
    ['fe80::1', true],
    ['2a00:1450::1', false],
    ['not-an-ip', false],
  ])('%s → %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});
