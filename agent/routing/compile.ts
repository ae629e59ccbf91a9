/**
 * Snapshot → routing table, once per snapshot. Everything a request needs is worked out
 * here: lanes with their fallback chains, dye matchers (regexes compiled once), each
 * service's spec with defaults, its instances grouped into subsets, its split table. The
 * result is immutable (route plans are memoised inside it) and swapped in as one object.
 */
import { STABLE } from '../../shared/color.ts';
import { isoNow } from '../../shared/iso-time.ts';
import type { Instance, Service } from '../../shared/schema/documents.ts';
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import { checkServiceSpec } from '../../shared/schema/validators/generated.ts';
import { type DyeResult, DyeTable } from './dye.ts';
import { type EndpointStates, endpointKey } from './endpoint-states.ts';
import { compileLaneStates, type LaneRuntime } from './lane-states.ts';
import { compileLanes } from './lanes.ts';
import { CompiledService } from './service.ts';
import { groupSubsets } from './subsets.ts';
import type { CompiledLane, DyeMatch, Endpoint, RequestView, RoutingTable } from './types.ts';

/** The spec of a service that has instances but no Service document: every schema default. */
export const DEFAULT_SERVICE_SPEC: Service['spec'] = defaultServiceSpec();

function defaultServiceSpec(): Service['spec'] {
  const checked = checkServiceSpec({});
  if (!checked.ok) throw new Error('the schema has a required Service field without a default');
  return checked.value;
}

/** A compiled snapshot. */
export class CompiledTable implements RoutingTable {
  readonly version: number;
  readonly loadedAt: string;
  readonly checksum: string;
  readonly snapshot: Snapshot;
  /** The dye rules, by entry service. */
  readonly dyeTable: DyeTable;
  /** The LaneStates in effect, by lane colour. */
  readonly laneStates: ReadonlyMap<string, LaneRuntime>;
  readonly #services: ReadonlyMap<string, CompiledService>;
  readonly #lanes: ReadonlyMap<string, CompiledLane>;

  constructor(
    snapshot: Snapshot,
    loadedAt: string,
    services: ReadonlyMap<string, CompiledService>,
    lanes: ReadonlyMap<string, CompiledLane>,
    dyeTable: DyeTable,
    laneStates: ReadonlyMap<string, LaneRuntime> = new Map(),
  ) {
    this.version = snapshot.version;
    this.checksum = snapshot.checksum;
    this.snapshot = snapshot;
    this.loadedAt = loadedAt;
    this.#services = services;
    this.#lanes = lanes;
    this.dyeTable = dyeTable;
    this.laneStates = laneStates;
  }

  service(name: string): CompiledService | undefined {
    return this.#services.get(name);
  }

  /** Instance addresses, made on first use (once per table: only agents with --accept-color mesh, and probes, ask). */
  #addresses: ReadonlySet<string> | undefined = undefined;

  isInstanceAddress(address: string): boolean {
    this.#addresses ??= new Set(this.snapshot.instances.map((e) => e.document.spec.address));
    return this.#addresses.has(address);
  }

  lane(color: string): CompiledLane | undefined {
    return this.#lanes.get(color);
  }

  services(): Iterable<CompiledService> {
    return this.#services.values();
  }

  lanes(): Iterable<CompiledLane> {
    return this.#lanes.values();
  }

  dye(service: string, req: RequestView, random: () => number, onMatch?: (match: DyeMatch) => void): DyeResult | undefined {
    return this.dyeTable.dye(service, req, random, onMatch);
  }
}

function toEndpoint(doc: Instance, states: EndpointStates): Endpoint {
  const s = doc.spec;
  const key = endpointKey(s.address, s.port);
  return {
    key,
    address: s.address,
    port: s.port,
    weight: s.weight,
    labels: s.labels,
    healthy: s.healthy,
    name: doc.metadata.name,
    state: states.get(key),
    color: s.labels.color ?? STABLE,
  };
}

/**
 * Compiles a verified snapshot. `states` is the live endpoint registry: endpoints get (or
 * create) their state there, so load and ejections survive recompiles; call
 * `states.prune(table)` after swapping the table in.
 *
 * @param loadedAt ISO time stamped on the table; default now.
 */
export function compileSnapshot(snapshot: Snapshot, states: EndpointStates, loadedAt: string = isoNow()): CompiledTable {
  const laneDocs = snapshot.lanes.map((e) => e.document);
  const runtimes = compileLaneStates(
    laneDocs,
    snapshot.laneStates.map((e) => e.document),
    snapshot.rollouts.map((e) => e.document),
  );
  const lanes = compileLanes(laneDocs, runtimes);
  const dyeTable = new DyeTable(laneDocs, runtimes);

  const specs = new Map<string, Service['spec']>();
  for (const { document } of snapshot.services) specs.set(document.metadata.name, document.spec);

  const byService = new Map<string, Endpoint[]>();
  for (const { document } of snapshot.instances) {
    const ep = toEndpoint(document, states);
    const list = byService.get(document.spec.service);
    if (list === undefined) byService.set(document.spec.service, [ep]);
    else list.push(ep);
  }

  const services = new Map<string, CompiledService>();
  const names = new Set<string>([...specs.keys(), ...byService.keys()]);
  for (const name of names) {
    const spec = specs.get(name) ?? DEFAULT_SERVICE_SPEC;
    const endpoints = byService.get(name) ?? [];
    services.set(name, new CompiledService(name, spec, endpoints, groupSubsets(name, endpoints, spec.subsets), lanes));
  }
  return new CompiledTable(snapshot, loadedAt, services, lanes, dyeTable, runtimes);
}
