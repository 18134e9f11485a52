import { BlockList, isIP } from 'node:net';

/** Longest endpoint URL accepted (real push services use a few hundred characters). */
export const MAX_ENDPOINT_LENGTH = 2048;

/**
 * Addresses a push endpoint may not reach unless PUSH_ALLOW_PRIVATE_ENDPOINTS: loopback, private,
 * link-local, carrier-grade NAT, unspecified and multicast ranges (IPv4, IPv6 and IPv4-mapped IPv6) —
 * Herald would otherwise POST on behalf of anyone holding a client token into its own network.
 */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 3],
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(network, prefix, 'ipv6');

/** True for an IP address in a range {@link PRIVATE} lists. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return PRIVATE.check(bare, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? PRIVATE.check(mapped[1], 'ipv4') : PRIVATE.check(bare, 'ipv6');
}

const isLocalName = (host: string): boolean => host === 'localhost' || host.endsWith('.localhost');

/**
 * Why Herald will not push to this endpoint (the 422 message), or undefined. Without
 * `allowPrivate`: https only, and not a loopback/private address or a `localhost` name. Names that
 * resolve to such addresses are refused when a push connects (see the sender's lookup).
 */
export function endpointProblem(endpoint: string, allowPrivate: boolean): string | undefined {
  const url = new URL(endpoint);
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:'))
    return allowPrivate
      ? 'endpoint must be an http:// or https:// URL'
      : 'endpoint must be an https:// URL (http:// only with PUSH_ALLOW_PRIVATE_ENDPOINTS)';
  if (url.username || url.password) return 'endpoint must not carry credentials';
  if (allowPrivate) return undefined;
  const host = url.hostname.toLowerCase();
  if (isLocalName(host) || isPrivateAddress(host))
    return 'endpoint is a loopback or private address (allowed only with PUSH_ALLOW_PRIVATE_ENDPOINTS)';
  return undefined;
}
