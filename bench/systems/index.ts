import { floor } from './floor';
import { herald } from './herald';
import { peer } from './peer';
import type { SystemAdapter } from './system';

export const SYSTEMS: readonly SystemAdapter[] = [herald, peer, floor];
