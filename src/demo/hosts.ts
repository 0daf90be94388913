// The demo fleet: hosts, each running an api and a worker process, and the tags their samplers
// write under.
import type { Tags } from '../metrics/series.js';
import { hash, strHash, u01 } from './noise.js';

export const ENVIRONMENT = 'demo';

export interface Host {
  name: string;
  key: number;
  cores: number;
  memTotal: number;
  diskTotal: number;
  /** Its share of the load, around 1. */
  weight: number;
  api: { instanceId: string };
  worker: { instanceId: string };
  nodeExporter: { url: string; instance: string };
}

export type Role = 'api' | 'worker';

export function makeHosts(seed: number, count: number): Host[] {
  const hosts: Host[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `pulse-demo-${i}`;
    const key = strHash(`${seed}|host|${name}`);
    const cores = [2, 4, 4, 8][hash(key, 1) % 4] as number;
    const pid = (n: number) => 1_000 + (hash(key, n) % 60_000);
    hosts.push({
      name,
      key,
      cores,
      memTotal: cores * 4 * 1_073_741_824,
      diskTotal: ([100, 200, 500][hash(key, 2) % 3] as number) * 1_073_741_824,
      weight: 0.85 + 0.3 * u01(key, 3),
      api: { instanceId: `${name}:${pid(4)}` },
      worker: { instanceId: `${name}:${pid(5)}` },
      nodeExporter: { url: `http://${name}:9100/metrics`, instance: `${name}:9100` },
    });
  }
  return hosts;
}

/** Tags of what a process samples of itself. */
export function processTags(host: Host, role: Role): Tags {
  return {
    hostname: host.name,
    instance_id: host[role].instanceId,
    environment: ENVIRONMENT,
    role,
  };
}

/** Tags of what the host's worker samples: its host, and the fleet-level samples it takes. */
export function workerTags(host: Host): Tags {
  return {
    hostname: host.name,
    instance_id: host.worker.instanceId,
    environment: ENVIRONMENT,
  };
}
